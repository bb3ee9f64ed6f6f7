"""Config validation: each invalid file is paired with the message it must produce."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from netvigil.config import Config, load_config, parse_config
from netvigil.config.load import PATTERN_WORDS, known_settings, models_in
from netvigil.config.model import DefaultsConfig
from netvigil.errors import ConfigError
from netvigil.probes import TargetBase

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.toml"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def expected_message(path: Path) -> str:
    first = path.read_bytes().decode("utf-8", errors="replace").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_config_names_file_location_and_problem(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected_message(path) in message


def test_shipped_examples_are_valid() -> None:
    examples = sorted(EXAMPLES.glob("*.toml"))
    assert examples, "examples/ holds no config"
    for path in examples:
        config = load_config(path)
        assert config.targets


def test_defaults_apply_to_targets_that_do_not_set_them() -> None:
    config = parse_config(
        """
        [defaults]
        interval_s = 15
        timeout_s = 3
        [[targets]]
        name = "a"
        control = true
        kind = "tcp"
        host = "192.0.2.1"
        port = 80
        [[targets]]
        name = "b"
        control = true
        kind = "tcp"
        host = "192.0.2.1"
        port = 81
        interval_s = 5
        """
    )
    assert [(t.interval_s, t.timeout_s) for t in config.targets] == [(15, 3), (5, 3)]


def test_unknown_default_is_refused_with_the_nearest_setting() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[defaults]\nintervall = 3\n")
    assert info.value.problems == [
        ("defaults.intervall", "unknown setting 'intervall'; did you mean 'interval_s'?")
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.toml")


def test_several_problems_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            """
            [[targets]]
            name = "a"
            control = true
            kind = "tcp"
            host = "h"
            port = 0
            [[targets]]
            name = "b"
            control = true
            kind = "http"
            url = "gopher://h/"
            """,
            source="x.toml",
        )
    locations = [loc for loc, _ in info.value.problems]
    assert locations == ["targets[0].port", "targets[1].url"]


_names = st.from_regex(r"[a-z][a-z0-9\-]{0,12}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(_names, min_size=1, max_size=6, unique=True),
    ports=st.lists(st.integers(min_value=-5, max_value=70000), min_size=6, max_size=6),
)
def test_generated_tcp_targets_validate_exactly_when_ports_are_valid(
    names: list[str], ports: list[int]
) -> None:
    blocks = [
        f'[[targets]]\nname = "{name}"\ncontrol = true\nkind = "tcp"\nhost = "192.0.2.7"\n'
        f"port = {port}\n"
        for name, port in zip(names, ports, strict=False)
    ]
    text = "\n".join(blocks)
    bad = [i for i, port in enumerate(ports[: len(names)]) if not 1 <= port <= 65535]
    if bad:
        with pytest.raises(ConfigError) as info:
            parse_config(text)
        assert [loc for loc, _ in info.value.problems] == [f"targets[{i}].port" for i in bad]
    else:
        config = parse_config(text)
        assert [t.name for t in config.targets] == names


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_loader(text: str) -> None:
    try:
        parse_config(text)
    except ConfigError as exc:
        assert str(exc).startswith("<config>")


def test_every_dangling_reference_is_its_own_problem_and_the_message_is_capped() -> None:
    blocks = [
        f'[[targets]]\nname = "t{i}"\nkind = "tcp"\nhost = "192.0.2.7"\nport = 80\n'
        for i in range(ConfigError.SHOWN + 5)
    ]
    blocks.append('[[targets]]\nname = "x"\nkind = "tcp"\nhost = "h"\nport = 1\nservice = "nope"\n')
    with pytest.raises(ConfigError) as info:
        parse_config("\n".join(blocks), source="big.toml")
    problems = info.value.problems
    assert len(problems) == ConfigError.SHOWN + 6
    assert problems[0] == (
        "targets[0].service",
        "target 't0' names no service (set service, or control = true for a control target)",
    )
    assert problems[-1] == (f"targets[{ConfigError.SHOWN + 5}].service", "unknown service 'nope'")
    lines = str(info.value).splitlines()
    assert len(lines) == ConfigError.SHOWN + 1
    assert lines[0].startswith("big.toml: targets[0].service: target 't0' names no service")
    assert lines[-1] == "big.toml: ... and 6 more problems"


def test_a_bad_default_is_reported_once_at_its_own_place() -> None:
    blocks = [
        f'[[targets]]\nname = "t{i}"\ncontrol = true\nkind = "tcp"\nhost = "192.0.2.7"\nport = 80\n'
        for i in range(3)
    ]
    with pytest.raises(ConfigError) as info:
        parse_config("[defaults]\ninterval_s = 0\ntimeout_s = 2\n" + "\n".join(blocks))
    assert info.value.problems == [("defaults.interval_s", "Input should be greater than 0")]


def test_problems_of_defaults_settings_and_references_come_in_one_pass() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            """
            [defaults]
            timeout_s = 900
            [vantage]
            country = "Albania"
            [[targets]]
            name = "a"
            service = "nope"
            kind = "tcp"
            host = "h"
            prot = 1
            [[targets]]
            name = "a"
            control = true
            kind = "dns"
            resolver = "dns.google"
            qname = "portal.example"
            """
        )
    assert [loc for loc, _ in info.value.problems] == [
        "defaults.timeout_s",
        "vantage.country",
        "targets[0].port",
        "targets[0].prot",
        "targets",
        "targets[0].service",
        "targets[1].resolver",
    ]


def test_defaults_have_the_bounds_of_the_targets_own_settings() -> None:
    for name in DefaultsConfig.model_fields:
        assert (
            DefaultsConfig.model_fields[name].metadata == TargetBase.model_fields[name].metadata
        ), name


def _models_under(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    seen.add(model)
    for field in model.model_fields.values():
        for inner in models_in(field.annotation):
            if inner not in seen:
                _models_under(inner, seen)


def test_every_pattern_of_the_config_model_is_said_in_words() -> None:
    models: set[type[BaseModel]] = set()
    _models_under(Config, models)
    assert TargetBase in {base for m in models for base in m.__mro__}
    patterns = {
        (model.__name__, name, meta.pattern)
        for model in models
        for name, field in model.model_fields.items()
        for meta in field.metadata
        if getattr(meta, "pattern", None)
    }
    assert len(patterns) >= 5
    unsaid = [p for p in patterns if p[2] not in PATTERN_WORDS]
    assert not unsaid, f"patterns without words in netvigil.config.load: {unsaid}"


def test_settings_known_at_a_place_follow_the_target_kind() -> None:
    assert "port" in known_settings(Config, ("targets", 0, "tcp", "prot"))
    assert "url" not in known_settings(Config, ("targets", 0, "tcp", "prot"))
    assert "qname" in known_settings(Config, ("targets", 2, "dns", "qnam"))
    assert "recipients" in known_settings(Config, ("notify", 0, "smtp", "recipient"))
    assert "defaults" in known_settings(Config, ("servr",))


def test_a_config_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[vantage]\nname = "Durrës"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: not UTF-8 text: byte 0xeb at offset 22; save it as UTF-8")


@pytest.mark.parametrize("listen", ["127.0.0.1:65536", "[::1]:99999", "0.0.0.0:70000"])
def test_listen_ports_out_of_range_are_errors(listen: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f'[server]\nlisten = "{listen}"\n')
    assert [loc for loc, _ in info.value.problems] == ["server.listen"]
    assert "out of range" in info.value.problems[0][1]


def test_listen_in_range_is_kept_and_port_0_means_any_free_port() -> None:
    assert parse_config('[server]\nlisten = "[::1]:65535"\n').server.port == 65535
    assert parse_config('[server]\nlisten = "127.0.0.1:0"\n').server.port == 0
