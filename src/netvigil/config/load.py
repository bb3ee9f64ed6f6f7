"""Load netvigil.toml into a Config; every error names the file, the place and the problem."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from netvigil.config.model import Config, ReferenceProblems
from netvigil.errors import ConfigError

__all__ = [
    "format_location",
    "load_config",
    "load_toml_model",
    "parse_config",
    "validation_problems",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

_TARGET_KINDS = ("http", "tcp", "dns", "icmp", "tls")
_NOTIFY_KINDS = ("webhook", "smtp", "apprise")


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file. Raises ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read file: {exc.strerror or exc}")]) from exc
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> Config:
    """Validate TOML text as a Config. Raises ConfigError naming `source`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [("", f"invalid TOML: {exc}")]) from exc
    raw = _apply_defaults(raw, source)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from exc


def load_toml_model(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read a TOML file and validate it as `model` (a scenario, a topology...).

    Raises ConfigError naming the file, the place inside it and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [("", f"invalid TOML: {exc}")]) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc)) from exc


def _apply_defaults(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Copy `[defaults]` (interval_s, timeout_s) into every target that does not set them."""
    defaults = raw.pop("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(source, [("defaults", "must be a table")])
    unknown = set(defaults) - {"interval_s", "timeout_s"}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ConfigError(source, [("defaults", f"unknown setting(s): {names}")])
    targets = raw.get("targets")
    if defaults and isinstance(targets, list):
        raw["targets"] = [{**defaults, **t} if isinstance(t, dict) else t for t in targets]
    return raw


def format_location(loc: tuple[int | str, ...]) -> str:
    """('targets', 3, 'http', 'url') -> 'targets[3].url' (drops union tags)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (
            part in _TARGET_KINDS
            or part in _NOTIFY_KINDS
            or part.startswith(("function-", "tagged-union"))
        ):
            continue
        else:
            out += f".{part}" if out else part
    return out


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic errors into (location, message) pairs."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            noun, kinds = (
                ("notifier", _NOTIFY_KINDS)
                if err["loc"][:1] == ("notify",)
                else ("target", _TARGET_KINDS)
            )
            if err["type"] == "union_tag_invalid":
                msg = f"unknown {noun} kind; expected one of {', '.join(kinds)}"
            else:
                msg = f"missing 'kind'; expected one of {', '.join(kinds)}"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        where = format_location(tuple(err["loc"]))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ReferenceProblems):
            prefix = f"{where}." if where else ""
            problems += [(prefix + loc, text) for loc, text in cause.problems]
            continue
        problems.append((where, msg))
    return problems
