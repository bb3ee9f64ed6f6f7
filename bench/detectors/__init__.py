"""Detectors scored by the NAB and RIPE Atlas benchmarks; ``netvigil run`` never uses them.

The product's detection lives in :mod:`netvigil.detect` (its per-path latency scorer is
:class:`netvigil.detect.BaselineDetector`; ``bench/ioda.py`` scores the product's signal
detector, :class:`netvigil.detect.signals.SignalDropDetector`). The detectors here were built
and tuned against the public benchmarks in ``docs/accuracy.md`` and are kept beside those
benchmarks, with their tests in ``tests/bench/``:

- :class:`HybridDetector`, :class:`ContextDetector`, :class:`ARTDetector`,
  :class:`ARTHybridDetector`, :class:`FuzzyART` and the :class:`AnomalyLikelihood`
  post-processor: ``bench/nab.py``;
- :class:`LevelShiftDetector`: ``bench/latency_changepoints.py``.

The bench scripts import this package as ``detectors`` (a script's own directory is first on
``sys.path``); tests import it as ``bench.detectors``. The single-series detectors follow
:class:`netvigil.detect.AnomalyDetector`; :class:`AnomalyLikelihood` rescores another
detector's raw scores, and :class:`FuzzyART` is the category memory inside :class:`ARTDetector`.
"""

from .art import ARTDetector, ARTHybridDetector, FuzzyART
from .changepoint import LevelShiftDetector
from .contextual import ContextDetector
from .hybrid import HybridDetector
from .likelihood import AnomalyLikelihood, log_likelihood

__all__ = [
    "ARTDetector",
    "ARTHybridDetector",
    "AnomalyLikelihood",
    "ContextDetector",
    "FuzzyART",
    "HybridDetector",
    "LevelShiftDetector",
    "log_likelihood",
]
