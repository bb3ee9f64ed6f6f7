"""Subjects, message checks and the `[bus]` config: pure, no server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats_harness import make_measurements

from netvigil.bus import (
    CONTROL_SHARD,
    TargetShards,
    decode_message,
    encode_measurement,
    measurement_filter,
    measurement_subject,
    shard_of,
    vantage_of,
)
from netvigil.bus.consumer import Rejection
from netvigil.bus.groups import incident_groups
from netvigil.bus.server import agent_user, collector_user, write_server_config
from netvigil.bus.shards import shard_of_group, shard_token
from netvigil.bus.subjects import incident_subject
from netvigil.config import load_config, parse_config
from netvigil.errors import ConfigError


def test_subjects_carry_the_shard_then_the_vantage_whole() -> None:
    subject = measurement_subject("tirana.1", "_s0417")
    assert subject == "netvigil.measurements._s0417.tirana.1"
    assert (vantage_of(subject), shard_of(subject)) == ("tirana.1", "_s0417")
    assert vantage_of("netvigil.measurements._ctl.durres") == "durres"
    assert measurement_filter("_s0417") == "netvigil.measurements._s0417.>"
    assert measurement_filter() == "netvigil.measurements.>"
    # Without a shard first, a subject names no vantage: the agent allowed
    # `netvigil.measurements.*.tirana` cannot pass for the vantage "x.tirana".
    for other in ("netvigil.measurements.x.tirana", "netvigil.measurements.tirana"):
        assert vantage_of(other) is None and shard_of(other) is None
    assert vantage_of("netvigil.incidents.x") is None
    assert vantage_of("netvigil.measurements._s0001") is None
    assert incident_subject("inc-1") == "netvigil.incidents.inc-1"
    for bad in ("", "a b", "a*", "a.>", ".a"):
        with pytest.raises(ValueError, match="NATS subject"):
            measurement_subject(bad, CONTROL_SHARD)
    for not_a_shard in ("s0001", "_s1", "_s99999", "tirana"):
        with pytest.raises(ValueError, match="not a shard"):
            measurement_subject("tirana", not_a_shard)


SHARED = """
[[networks]]
name = "as-one"
[[services]]
name = "portal"
network = "as-one"
[[services]]
name = "mail"
network = "as-one"
[[targets]]
name = "portal-https"
kind = "tcp"
host = "127.0.0.1"
port = 443
service = "portal"
[[targets]]
name = "mail-smtp"
kind = "tcp"
host = "127.0.0.1"
port = 25
service = "mail"
[[targets]]
name = "gateway"
kind = "tcp"
host = "127.0.0.1"
port = 53
control = true
"""


def test_targets_of_one_incident_group_share_a_shard_and_controls_have_their_own() -> None:
    config = parse_config(SHARED)
    shards = TargetShards(config)
    [group] = incident_groups(config)
    assert shards.token("portal-https") == shards.token("mail-smtp")
    assert shards.token("portal-https") == shard_token(shard_of_group(group.key))
    assert shards.token("gateway") == CONTROL_SHARD
    assert shards.token("unknown") == shard_token(shard_of_group("service:unknown"))
    spread = {shard_of_group(f"service:t{i}") for i in range(5000)}
    assert len(spread) > 950  # 5,000 groups fill nearly all of the 1,024 shards


def test_a_subject_without_a_shard_is_set_aside() -> None:
    m = make_measurements(1, vantage="tirana")[0]
    decoded = decode_message(
        "netvigil.measurements.tirana", encode_measurement(m), max_payload_bytes=65_536
    )
    assert isinstance(decoded, Rejection) and decoded.reason == "vantage_mismatch"


def test_a_good_message_decodes_to_its_measurement() -> None:
    m = make_measurements(1)[0]
    decoded = decode_message(
        "netvigil.measurements._ctl.tirana", encode_measurement(m), max_payload_bytes=65_536
    )
    assert decoded == m


@pytest.mark.parametrize(
    ("body", "reason", "words"),
    [
        (b"\xff\xfe", "malformed", "not JSON"),
        (b"{", "malformed", "not JSON"),
        (b'"text"', "malformed", "a JSON str"),
        (b"{}", "invalid", "Field required"),
        (b"x" * 2000, "oversized", "2000 bytes, more than 1024"),
    ],
)
def test_bad_messages_are_named_by_reason(body: bytes, reason: str, words: str) -> None:
    decoded = decode_message("netvigil.measurements._s0001.tirana", body, max_payload_bytes=1024)
    assert isinstance(decoded, Rejection)
    assert decoded.reason == reason
    assert words in decoded.detail


def test_a_body_naming_another_vantage_than_its_subject_is_refused() -> None:
    m = make_measurements(1, vantage="durres")[0]
    decoded = decode_message(
        "netvigil.measurements._s0001.tirana", encode_measurement(m), max_payload_bytes=65_536
    )
    assert decoded == Rejection("vantage_mismatch", "body says 'durres', subject says 'tirana'")


def test_server_config_gives_each_agent_its_own_subject(tmp_path: Path) -> None:
    users = [collector_user("collector", "pw-c"), agent_user("tirana", "pw-t")]
    path = write_server_config(tmp_path / "nats.conf", port=4333, store_dir="js", users=users)
    assert path.stat().st_mode & 0o777 == 0o600
    config = json.loads(path.read_text())
    agent = config["authorization"]["users"][1]
    assert agent["user"] == "agent-tirana"
    assert agent["permissions"]["publish"]["allow"] == ["netvigil.measurements.*.tirana"]
    assert agent["permissions"]["subscribe"]["allow"] == ["_INBOX_AGENT.tirana.>"]
    collector = config["authorization"]["users"][0]
    assert "netvigil.measurements.>" not in collector["permissions"]["publish"]["allow"]
    assert config["jetstream"] == {"store_dir": "js"}


def test_bus_config_defaults_to_http_and_reads_nats(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text('[vantage]\nname = "x"\n')
    assert load_config(plain).bus.kind == "http"
    nats = tmp_path / "nats.toml"
    nats.write_text(
        '[bus]\nkind = "nats"\nurl = "nats://10.0.0.1:4222"\nuser = "a"\npassword = "b"\n'
    )
    bus = load_config(nats).bus
    assert (bus.kind, bus.url, bus.consumer) == (
        "nats",
        "nats://10.0.0.1:4222",
        "netvigil-collector",
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('url = "http://x:4222"', "bus.url: must be a nats:// or tls:// URL with a host"),
        ('user = "a"', "user and password (or password_env) go together"),
        ('consumer = "a.b"', "bus.consumer: must be 1 to 64 letters, digits, '_' or '-'"),
    ],
)
def test_bad_bus_settings_are_said_in_words(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[bus]\nkind = "nats"\n{section}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
