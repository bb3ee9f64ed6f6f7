"""The public pages' languages: English and Albanian (sq), from Babel message catalogues.

    speech = speech_for("sq")                    # cached, one per language
    speech.gettext("Services")                   # 'Shërbimet'
    speech.stamp(1_700_000_000)                  # '14 nën 2023, 22:13 UTC'
    speech.duration(1800)                        # '30 minuta'
    negotiate("sq", None, "en")                  # '?lang=' first, then Accept-Language

The catalogues are `locale/<lang>/LC_MESSAGES/netvigil.po`, compiled beside them to
`netvigil.mo` (both ship in the wheel). Their messages are extracted from the status
modules and the templates (`locale/babel.cfg`; tests/web/test_i18n.py fails when a
catalogue misses one). States and causes are the keys of `netvigil/vocabulary.json`,
translated under the contexts "state" and "cause" (a key a catalogue does not translate
is said in the vocabulary's English).

Times are said with Babel in the language (`format_datetime` with the language's
pattern, always in UTC), durations with `format_timedelta` (Albanian plurals come from
the catalogue's plural rule and Babel's locale data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_datetime, format_timedelta
from babel.support import NullTranslations, Translations

from netvigil.cause import Cause
from netvigil.words import VOCABULARY

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "Language",
    "Speech",
    "negotiate",
    "parse_accept_language",
    "speech_for",
]

DOMAIN = "netvigil"
LOCALE_DIR = Path(__file__).parent / "locale"


@dataclass(frozen=True, slots=True)
class Language:
    """How one language says what the catalogue does not: its own name and time formats."""

    code: str
    name: str
    """The language's name in itself (what the language switch shows)."""
    stamp_pattern: str
    """A moment, as a Babel (CLDR) pattern, in UTC."""
    day_pattern: str
    """A day (UTC)."""
    timedelta_format: Literal["narrow", "short", "long"]
    """Babel's `format_timedelta` length."""


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "yyyy-MM-dd HH:mm 'UTC'", "yyyy-MM-dd", "short"),
    "sq": Language("sq", "Shqip", "d MMM y, HH:mm 'UTC'", "d MMM y", "long"),
}
"""The languages the public pages speak, by code."""

TIMEDELTA_THRESHOLD = 2.0
"""A duration is said in the next bigger unit once it holds two of them: 90 s, 2 min."""


class Speech:
    """Everything the public pages say, in one language: messages, times, lists."""

    def __init__(self, language: Language, translations: NullTranslations) -> None:
        self.language = language
        self.code = language.code
        self.locale = Locale.parse(language.code)
        self.translations = translations
        self._gettext = translations.gettext
        self._ngettext = translations.ngettext
        self._pgettext = translations.pgettext

    def gettext(self, message: str) -> str:
        """`message` in this language (itself when the catalogue lacks it)."""
        return self._gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of `singular`/`plural` for `n`, by the language's plural rule."""
        return self._ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        """`message` under `context` in this language (itself when not translated)."""
        return str(self._pgettext(context, message))

    def stamp(self, ts: float) -> str:
        """Epoch seconds -> '2023-11-14 22:08 UTC' (en), '14 nën 2023, 22:08 UTC' (sq)."""
        moment = datetime.fromtimestamp(ts, tz=UTC)
        return format_datetime(moment, self.language.stamp_pattern, UTC, self.locale)

    def day(self, ts: float) -> str:
        """Epoch seconds -> its UTC day: '2023-11-14' (en), '14 nën 2023' (sq)."""
        moment = datetime.fromtimestamp(ts, tz=UTC)
        return format_datetime(moment, self.language.day_pattern, UTC, self.locale)

    def duration(self, seconds: float) -> str:
        """A span of time: '30 min' (en), '30 minuta' (sq); '2 hr', '2 orë'."""
        return format_timedelta(
            timedelta(seconds=seconds),
            threshold=TIMEDELTA_THRESHOLD,
            format=self.language.timedelta_format,
            locale=self.locale,
        )

    def names(self, items: Sequence[str], limit: int = 5) -> str:
        """['a', 'b', 'c'] -> 'a, b and c' ('a, b dhe c'); beyond `limit`, 'and N more'."""
        if len(items) > limit:
            more = len(items) - limit
            return self.ngettext(
                "%(items)s and %(count)d more", "%(items)s and %(count)d more", more
            ) % {"items": ", ".join(items[:limit]), "count": more}
        if len(items) <= 1:
            return "".join(items)
        return self.gettext("%(items)s and %(last)s") % {
            "items": ", ".join(items[:-1]),
            "last": items[-1],
        }

    def state(self, state: str) -> str:
        """A status name -> its word: 'degraded' -> 'partly down' ('pjesërisht jashtë
        funksionit')."""
        said = self.pgettext("state", state)
        if said != state:
            return said
        words: dict[str, str] = VOCABULARY["states"]
        return words.get(state, state.replace("_", " "))

    def cause(self, cause: Cause) -> str:
        """The cause in plain words for the public, in this language."""
        said = self.pgettext("cause", cause.value)
        if said != cause.value:
            return said
        entry = VOCABULARY["causes"].get(cause.value)
        if entry:
            return str(entry["plain"])
        return self.gettext("the cause is not clear yet")

    def cause_network(self, cause: Cause) -> str:
        """The cause in plain words about a whole network, in this language (the service
        words when the cause has none of its own)."""
        entry = VOCABULARY["causes"].get(cause.value)
        if not entry or "network" not in entry:
            return self.cause(cause)
        said = self.pgettext("cause-network", cause.value)
        return said if said != cause.value else str(entry["network"])


@cache
def speech_for(code: str) -> Speech:
    """The `Speech` of a language of LANGUAGES (English for any other code)."""
    language = LANGUAGES.get(code, LANGUAGES["en"])
    translations = Translations.load(str(LOCALE_DIR), [language.code], DOMAIN)
    return Speech(language, translations)


def parse_accept_language(header: str | None) -> list[str]:
    """An Accept-Language value -> its language tags, most wanted first ('*' and q=0 left
    out): 'sq-AL,sq;q=0.9,en;q=0.5' -> ['sq_AL', 'sq', 'en']."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for order, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        q = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if tag and tag != "*" and q > 0:
            weighted.append((-q, order, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(query: str | None, accept_language: str | None, default: str) -> str:
    """The language to answer in: `?lang=` when it names one of LANGUAGES, else the best
    of the client's Accept-Language (Babel's `negotiate_locale`), else `default`."""
    if query in LANGUAGES:
        return query
    wanted = parse_accept_language(accept_language)
    found = negotiate_locale(wanted, list(LANGUAGES), sep="_") if wanted else None
    if found in LANGUAGES:
        return found
    return default if default in LANGUAGES else "en"
