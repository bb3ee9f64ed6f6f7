"""Load netvigil.toml into a Config; every error names the file, the place and the problem.

Problems are gathered in one pass where they can be: the `[defaults]` table, every
setting, and what only shows across sections (names used twice, names that refer to
nothing) are all reported together, each on its own line. Only a file that is not TOML
stops at its first error. Messages speak of settings, not of regular expressions, and an
unknown setting or kind suggests the nearest known one.
"""

from __future__ import annotations

import difflib
import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from netvigil.config.model import (
    AGENT_HASH,
    COUNTRY,
    ENV_NAME,
    LISTEN,
    NAME,
    Config,
    DefaultsConfig,
)
from netvigil.config.references import ReferenceProblems, cross_check_problems
from netvigil.errors import ConfigError
from netvigil.probes.base import NAME_PATTERN

__all__ = [
    "format_location",
    "known_settings",
    "load_config",
    "load_toml_model",
    "models_in",
    "parse_config",
    "read_text_file",
    "validation_problems",
]

ModelT = TypeVar("ModelT", bound=BaseModel)
Problems = list[tuple[str, str]]

_TARGET_KINDS = ("http", "tcp", "dns", "icmp", "tls")
_NOTIFY_KINDS = ("webhook", "smtp", "apprise")

PATTERN_WORDS: dict[str, str] = {
    COUNTRY: "must be a two-letter country code like AL (ISO 3166, capital letters)",
    NAME: "must be a name of letters, digits, '.', '_' and '-', starting with a letter or digit",
    NAME_PATTERN: "must start with a letter or digit, followed by letters, digits or . _ - : / @"
    " ? = & % + [ ]",
    AGENT_HASH: "must be 64 lowercase hex digits, the sha256 of the agent's token"
    " (`netvigil agent token NAME` prints it)",
    ENV_NAME: "must be an environment variable name (letters, digits and _, not starting"
    " with a digit)",
    LISTEN: "must be HOST:PORT, like 127.0.0.1:8080 or [::1]:8080",
}
"""What each pattern of the config model asks for, in words."""


def read_text_file(path: Path) -> str:
    """The UTF-8 text of `path`; ConfigError naming the file (and the byte) when unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise ConfigError(
            str(path),
            [("", f"not UTF-8 text: byte 0x{byte:02x} at offset {exc.start}; save it as UTF-8")],
        ) from exc


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file. Raises ConfigError."""
    path = Path(path)
    return parse_config(read_text_file(path), source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> Config:
    """Validate TOML text as a Config. Raises ConfigError naming `source`."""
    raw = _parse_toml(text, source)
    problems = _apply_defaults(raw)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        found = validation_problems(exc, Config)
        places = {loc for loc, _ in found}
        # The model checks references only when every setting is valid; check them on
        # the raw tables too, so that one run reports everything.
        found += [(loc, msg) for loc, msg in cross_check_problems(raw) if loc not in places]
        raise ConfigError(source, problems + found) from exc
    if problems:
        raise ConfigError(source, problems)
    return config


def load_toml_model(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read a TOML file and validate it as `model` (a scenario, a topology...).

    Raises ConfigError naming the file, the place inside it and the problem.
    """
    path = Path(path)
    raw = _parse_toml(read_text_file(path), str(path))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc, model)) from exc


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [("", f"invalid TOML: {exc}")]) from exc


def _apply_defaults(raw: dict[str, Any]) -> Problems:
    """Copy the valid `[defaults]` settings into every target that does not set them.

    Returns the problems of `[defaults]` itself, each reported once at `defaults.<name>`
    (an invalid default is not copied, so it is not reported again for every target).
    """
    defaults = raw.pop("defaults", {})
    if not isinstance(defaults, dict):
        return [("defaults", "must be a table ([defaults])")]
    try:
        DefaultsConfig.model_validate(defaults)
        problems: Problems = []
        valid = defaults
    except ValidationError as exc:
        problems = validation_problems(exc, DefaultsConfig, prefix="defaults")
        bad = {err["loc"][0] for err in exc.errors(include_url=False) if err["loc"]}
        valid = {k: v for k, v in defaults.items() if k not in bad}
    targets = raw.get("targets")
    if valid and isinstance(targets, list):
        raw["targets"] = [{**valid, **t} if isinstance(t, dict) else t for t in targets]
    return problems


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


def validation_problems(
    exc: ValidationError, root: type[BaseModel] = Config, *, prefix: str = ""
) -> Problems:
    """Turn pydantic errors into (location, message) pairs, in words.

    `root` is the model that was validated (it tells the settings an unknown one may
    be a typo of); `prefix` is put before every location (`defaults`).
    """
    problems: Problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = format_location(loc)
        if prefix:
            where = f"{prefix}.{where}" if where else prefix
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ReferenceProblems):
            lead = f"{where}." if where else ""
            problems += [(lead + place, text) for place, text in cause.problems]
            continue
        problems.append((where, _message(err, loc, root)))
    return problems


def _message(err: Any, loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    msg: str = err["msg"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return f"unknown setting {name!r}" + _did_you_mean(name, known_settings(root, loc))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        noun, kinds = (
            ("notifier", _NOTIFY_KINDS) if loc[:1] == ("notify",) else ("target", _TARGET_KINDS)
        )
        expected = f"expected one of {', '.join(kinds)}"
        if kind == "union_tag_not_found":
            return f"missing 'kind'; {expected}"
        tag = str(ctx.get("tag", ""))
        hint = _did_you_mean(tag, list(kinds))
        if tag in ("https", "http2", "web"):
            hint = ' (an https:// URL is kind = "http")'
        return f"unknown {noun} kind; {expected}, not {tag!r}{hint}"
    if kind == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(str(ctx.get("pattern")), "does not have the expected form")
        given = err.get("input")
        return f"{words}, not {given!r}" if isinstance(given, str) and len(given) < 80 else words
    return msg.removeprefix("Value error, ")


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def known_settings(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The settings of the table that holds the last part of `loc` (for 'did you mean')."""
    models: list[type[BaseModel]] = [root]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        tagged = [m for m in models if part in _kinds_of(m)]
        if tagged:
            models = tagged
            continue
        found: list[type[BaseModel]] = []
        for model in models:
            field = model.model_fields.get(part)
            if field is not None:
                found += models_in(field.annotation)
        models = found
    names = {name for model in models for name in model.model_fields}
    if len(loc) == 1 and root is Config:
        names.add("defaults")
    return sorted(names)


def _kinds_of(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("kind")
    return () if field is None else get_args(field.annotation)


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's type holds: itself, its list items, its union members."""
    origin = get_origin(annotation)
    if origin in (Annotated, list, Union, types.UnionType):
        args = get_args(annotation)
        members = args[:1] if origin is Annotated else args
        return [m for arg in members for m in models_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []
