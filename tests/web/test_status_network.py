"""The status page in plain words when the network plane says a whole network is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from apidata import NOW, fill, incident, make_config

from netvigil.cause import Cause
from netvigil.config.model import NetworkConfig
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.i18n import speech_for
from netvigil.web.status_words import incident_sentence, past_sentence, recovering_sentence


def _network_incident(end: float | None = None) -> Incident:
    """The network plane's incident: network gov withdrawn, no service of it failing yet."""
    return replace(
        incident(7, end=end),
        cause=Cause.ROUTE_WITHDRAWAL,
        services=[],
        targets=[],
        vantages=[],
    )


def test_a_network_gone_is_said_in_plain_words() -> None:
    inc = _network_incident()
    labels = {"gov": "Government data centre"}
    sentence = (
        "Since 2023-11-14 22:08 UTC, Government data centre is unreachable from the Internet;"
        " it looks like its routes were withdrawn from the internet."
    )
    assert incident_sentence(inc, show_vantages=True, labels=labels) == sentence
    assert recovering_sentence(inc, labels=labels) == sentence  # no service to answer again
    ended = _network_incident(end=NOW)
    assert past_sentence(ended, show_vantages=False, labels=labels) == (
        "From 2023-11-14 22:08 UTC to 2023-11-14 22:13 UTC (5 min), Government data centre"
        " was unreachable from the Internet; it looks like its routes were withdrawn from the"
        " internet."
    )


def test_a_network_gone_is_said_in_albanian() -> None:
    sq = speech_for("sq")
    labels = {"gov": "Rrjeti i qeverisë"}
    said = incident_sentence(_network_incident(), show_vantages=False, labels=labels, speech=sq)
    assert said.startswith("Që nga ")
    assert "Rrjeti i qeverisë nuk mund të arrihet nga interneti;" in said
    assert "rrugët drejt tij u tërhoqën nga interneti" in said
    ended = past_sentence(_network_incident(end=NOW), show_vantages=False, labels=labels, speech=sq)
    assert ended.startswith("Nga ") and "nuk mund të arrihej nga interneti" in ended


def test_a_service_incident_reads_as_before() -> None:
    assert incident_sentence(incident(), show_vantages=False, labels={"portal": "Portal"}) == (
        "Since 2023-11-14 22:08 UTC, Portal and parliament are unreachable; it looks like the"
        " network hosting them was cut off."
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "status.db")
    await fill(s)
    inc = _network_incident()
    await s.add_incident_event(IncidentEvent(EventKind.CONFIRMED, NOW - 240, inc))
    await s.save_incident(inc)
    yield s
    await s.close()


async def test_the_status_page_names_the_network_by_its_description(store: SQLiteStore) -> None:
    config = make_config()
    networks = [NetworkConfig(name="gov", description="Government data centre")]
    config = config.model_copy(update={"networks": [*networks, *config.networks[1:]]})
    app = create_app(store, config, now=lambda: NOW)
    await app.state.live.sync(store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
        html = (await client.get("/status")).text
        badge = await client.get("/status/badge/gov.svg")
    assert (
        "Since 2023-11-14 22:08 UTC, Government data centre is unreachable from the Internet;"
        " it looks like its routes were withdrawn from the internet." in html
    )
    assert badge.status_code == 404  # a network is no service
