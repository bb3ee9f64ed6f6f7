"""The public pages in English and Albanian: catalogues, language choice, Albanian words."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from apidata import NOW, fill, incident, make_config
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from netvigil.cause import Cause
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.i18n import LANGUAGES, LOCALE_DIR, negotiate, parse_accept_language, speech_for
from netvigil.web.status_feed import ATOM_NS
from netvigil.web.status_words import in_clause, incident_sentence, past_sentence
from netvigil.words import VOCABULARY

WEB = LOCALE_DIR.parent
A = f"{{{ATOM_NS}}}"


def extracted() -> set[tuple[str | None, str]]:
    """(context, msgid) of every message the status modules and templates use, extracted
    by Babel with the project's mapping (locale/babel.cfg)."""
    with (LOCALE_DIR / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: set[tuple[str | None, str]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(WEB), method_map, options_map
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        if msgid:
            found.add((context, msgid))
    return found


def catalogue(lang: str) -> Any:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "netvigil.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_extraction_finds_the_page_the_sentences_and_the_feed() -> None:
    ids = {msgid for _, msgid in extracted()}
    assert "Happening now" in ids  # a template
    assert "Since %(since)s, %(services)s is unreachable%(where)s; %(why)s." in ids  # words
    assert "%(title)s: incidents" in ids  # the feed
    assert "status" in ids  # the badge


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_catalogue_has_every_message_used(lang: str) -> None:
    held = catalogue(lang)
    have = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in held if m.id}
    missing = sorted(extracted() - have, key=str)
    assert not missing, f"{lang}: missing from netvigil.po: {missing}"


def test_albanian_translates_every_message_states_and_causes() -> None:
    held = catalogue("sq")
    untranslated = [
        m.id
        for m in held
        if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert not untranslated
    assert held.plural_forms == "nplurals=2; plural=(n != 1);"
    contexts = {(m.context, m.id) for m in held if m.context}
    for state in VOCABULARY["states"]:
        assert ("state", state) in contexts, state
    for cause in [*VOCABULARY["causes"], "ddos_mitigation"]:
        assert ("cause", cause) in contexts, cause


def key(message: Any) -> tuple[str | None, Any]:
    msgid = message.id
    return message.context, tuple(msgid) if isinstance(msgid, list | tuple) else msgid


def value(message: Any) -> tuple[str, ...]:
    text = message.string
    return tuple(text) if isinstance(text, list | tuple) else (text,)


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_compiled_catalogue_matches_its_source(lang: str) -> None:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "netvigil.mo").open("rb") as f:
        compiled = read_mo(f)
    source = {key(m): value(m) for m in catalogue(lang) if m.id and any(value(m))}
    built = {key(m): value(m) for m in compiled if m.id}
    fix = "run: pybabel compile -D netvigil -d src/netvigil/web/locale"
    assert {k: built.get(k) for k in source} == source, fix
    for k, text in built.items():  # the rest: untranslated plurals, said as in the source
        assert k in source or text == k[1], fix


@pytest.mark.parametrize(
    ("query", "header", "default", "wanted"),
    [
        ("sq", "en", "en", "sq"),
        ("en", "sq", "sq", "en"),
        ("de", "sq-AL,sq;q=0.9", "en", "sq"),
        (None, "de-DE, en;q=0.3, sq;q=0.8", "en", "sq"),
        (None, "sq;q=0, en", "sq", "en"),
        (None, "fr, de", "sq", "sq"),
        (None, None, "en", "en"),
        (None, "*", "sq", "sq"),
    ],
)
def test_language_is_the_query_then_accept_language_then_the_default(
    query: str | None, header: str | None, default: str, wanted: str
) -> None:
    assert negotiate(query, header, default) == wanted


def test_accept_language_is_ordered_by_q() -> None:
    assert parse_accept_language("en;q=0.5, sq-AL, fr;q=bad, *") == ["sq_AL", "en"]


def test_albanian_words_times_and_plurals() -> None:
    sq = speech_for("sq")
    assert sq.stamp(NOW) == "14 nën 2023, 22:13 UTC"
    assert sq.duration(600) == "10 minuta"
    assert sq.duration(60) == "60 sekonda"
    assert sq.duration(3 * 3600) == "3 orë"
    assert sq.names(["a", "b", "c"]) == "a, b dhe c"
    assert sq.names([str(n) for n in range(7)]) == "0, 1, 2, 3, 4 dhe 2 të tjera"
    assert sq.names([str(n) for n in range(6)]) == "0, 1, 2, 3, 4 dhe 1 tjetër"
    assert sq.state("degraded") == "pjesërisht jashtë funksionit"
    assert sq.cause(Cause.SHUTDOWN) == "duket se rrjeti ku ndodhen u shkëput"
    one, two = incident(), incident()
    one.services = ["portal"]
    labels = {"portal": "Portali e-Albania", "tax": "Tatimet"}
    assert incident_sentence(one, show_vantages=False, labels=labels, speech=sq) == (
        "Që nga 14 nën 2023, 22:08 UTC, Portali e-Albania nuk mund të arrihet;"
        " duket se rrjeti ku ndodhen u shkëput."
    )
    two.services = ["portal", "tax"]
    two.cause = Cause.SERVICE_FAILURE
    assert "Portali e-Albania dhe Tatimet nuk funksionojnë;" in incident_sentence(
        two, show_vantages=False, labels=labels, speech=sq
    )
    ended = incident(end=NOW + 1800)
    sentence = past_sentence(ended, show_vantages=True, labels=labels, speech=sq)
    assert sentence.startswith("Nga 14 nën 2023, 22:08 UTC deri më 14 nën 2023, 22:43 UTC")
    assert "(35 minuta)" in sentence
    assert "nuk mund të arriheshin nga " in sentence


def test_english_is_unchanged_without_a_speech() -> None:
    one = incident()
    assert incident_sentence(one, show_vantages=False, labels={"portal": "e-Albania portal"}) == (
        "Since 2023-11-14 22:08 UTC, e-Albania portal and parliament are unreachable;"
        " it looks like the network hosting them was cut off."
    )


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("The portal", "the portal"),
        ("An archive", "an archive"),
        ("Tax office", "Tax office"),
        ("EU portal", "EU portal"),
        ("e-Albania portal", "e-Albania portal"),
        ("The", "The"),
        ("Theatre site", "Theatre site"),
    ],
)
def test_a_name_inside_a_sentence_keeps_only_its_own_capitals(label: str, said: str) -> None:
    assert in_clause(label) == said


def test_a_sentence_after_its_lead_in_is_not_capitalised() -> None:
    inc = incident()
    inc.services = ["portal", "tax"]
    labels = {"portal": "The portal", "tax": "The tax office"}
    sentence = incident_sentence(inc, show_vantages=False, labels=labels)
    assert sentence.startswith("Since 2023-11-14 22:08 UTC, the portal and the tax office are ")
    assert not re.search(r", [A-Z]", sentence.replace(", it", ""))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "i18n.db")
    await fill(s)
    yield s
    await s.close()


async def client_for(store: SQLiteStore, **server: Any) -> httpx.AsyncClient:
    app = create_app(store, make_config(**server), now=lambda: NOW)
    await app.state.live.sync(store)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://nv.test")


async def test_status_page_in_albanian_by_accept_language(store: SQLiteStore) -> None:
    async with await client_for(store, title="Shërbimet publike") as client:
        resp = await client.get("/status", headers={"Accept-Language": "sq-AL,sq;q=0.9,en;q=0.5"})
        english = await client.get("/status?lang=en", headers={"Accept-Language": "sq"})
        plain = await client.get("/status")
    html = resp.text
    assert resp.headers["vary"] == "Accept-Language"
    assert '<html lang="sq">' in html
    assert '<h2 id="services">Shërbimet</h2>' in html
    assert '<h2 id="now">Po ndodh tani</h2>' in html
    assert "1 nga 4 shërbime nuk funksionon. 1 tjetër ka probleme." in html
    assert (
        "<li>Që nga 14 nën 2023, 22:08 UTC, e-Albania portal dhe parliament nuk mund të"
        " arrihen; duket se rrjeti ku ndodhen u shkëput.</li>" in html
    )
    assert '<span class="state">Nuk funksionon që nga 14 nën 2023, 22:08 UTC' in html
    assert '<span class="state">Funksionon</span>' in html
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in html
    assert "Working" not in html and "Since " not in html
    assert "<title>Shërbimet publike</title>" in html  # a title of its own is kept
    # ?lang= wins over the header, and the links keep it
    assert '<html lang="en">' in english.text
    assert "<li>Since 2023-11-14 22:08 UTC, e-Albania portal and parliament" in english.text
    assert 'href="/status/incidents?lang=en"' in english.text
    assert '<a href="?lang=sq" hreflang="sq" lang="sq">Shqip</a>' in english.text
    assert english.headers["etag"] != resp.headers["etag"]
    assert '<html lang="en">' in plain.text  # the default


async def test_server_language_is_the_default(store: SQLiteStore) -> None:
    async with await client_for(store, language="sq") as client:
        default = await client.get("/status")
        asked = await client.get("/status", headers={"Accept-Language": "en-GB"})
        other = await client.get("/status", headers={"Accept-Language": "de"})
    assert '<html lang="sq">' in default.text
    assert "<title>Gjendja e shërbimeve</title>" in default.text  # the default title, said
    assert '<html lang="en">' in asked.text
    assert '<html lang="sq">' in other.text


async def test_feed_badge_and_incident_page_in_albanian(store: SQLiteStore) -> None:
    sq = {"Accept-Language": "sq"}
    async with await client_for(store) as client:
        feed = ET.fromstring((await client.get("/status/feed.atom", headers=sq)).content)
        badge = (await client.get("/status/badge/portal.svg", headers=sq)).text
        page = (await client.get("/status/incidents/inc-1?lang=sq")).text
        archive = (await client.get("/status/incidents", headers=sq)).text
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "sq"
    assert feed.findtext(f"{A}title") == "Gjendja e shërbimeve: incidentet"
    entry = feed.findall(f"{A}entry")[0]
    assert entry.findtext(f"{A}title") == "e-Albania portal dhe parliament: në vazhdim"
    assert (entry.findtext(f"{A}summary") or "").startswith("Që nga 14 nën 2023, 22:08 UTC")
    assert "gjendja: nuk funksionon" in badge
    assert "<h1>e-Albania portal dhe parliament: ndërprerje</h1>" in page
    assert "<dt>Përfundoi</dt><dd>ende në vazhdim</dd>" in page
    assert "<dt>Shkaku</dt><dd>Duket se rrjeti ku ndodhen u shkëput.</dd>" in page
    assert 'href="/status/incidents?lang=sq"' in page
    assert "<h1>Incidentet e kaluara</h1>" in archive
