"""Languages of the pages: which one a request gets, its message catalogue, and amounts,
dates and time zones written the way that language writes them (Babel).

The catalogues are the `.po` files under `locale/`, compiled in memory when the package
is first used (Babel reads the `.po` and writes the `.mo` into a buffer): no binary file is
committed and no build step can be forgotten; the `.po` is the one source. English is the
source language (the message ids), so it has no catalogue.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from corridor.platform.domain import money

LOCALE_DIR = Path(__file__).parent / "locale"
# The language tags the pages speak (what the switcher and the cookie carry), and the
# Babel locale each is written with.
LANGUAGES = {"en": "en", "zh-Hans": "zh_Hans_CN"}
DEFAULT_LANGUAGE = "en"
CATALOGUE_DIRS = {"zh-Hans": "zh_Hans"}  # English is the source: no catalogue
# Time zones offered by the switcher; the default follows the language.
TIME_ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Shanghai",
              "Asia/Hong_Kong", "Asia/Singapore")
DEFAULT_ZONE = {"en": "UTC", "zh-Hans": "Asia/Shanghai"}
ACCEPT_LANGUAGE_ITEMS_MAX = 20  # entries looked at (a longer header is someone playing)


@functools.cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of `language` (English: the ids themselves)."""
    folder = CATALOGUE_DIRS.get(language)
    if folder is None:
        return NullTranslations()
    return Translations(io.BytesIO(compiled(LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po")))


def compiled(po: Path) -> bytes:
    """The `.mo` form of a `.po` file; fuzzy entries are left out, as msgfmt does."""
    with po.open("rb") as f:
        catalogue = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalogue, use_fuzzy=False)
    return out.getvalue()


def _tag_language(tag: str) -> str | None:
    """The language of ours an Accept-Language tag asks for, if any. Chinese without a
    script or region, or written in Simplified script (mainland, Singapore), is ours;
    Traditional (zh-Hant, zh-TW, zh-HK, zh-MO) is not, so it falls through to the next
    choice rather than being answered in a script its reader did not ask for."""
    tag = tag.strip().lower()
    if tag == "en" or tag.startswith("en-"):
        return "en"
    if tag in ("zh", "zh-cn", "zh-sg", "zh-hans") or tag.startswith("zh-hans-"):
        return "zh-Hans"
    return None


def negotiate(accept_language: str) -> str | None:
    """The best of our languages for an Accept-Language header (RFC 9110 §12.5.4 q-values),
    or None when it asks for none of them."""
    choices: list[tuple[float, int, str]] = []
    for i, item in enumerate(accept_language.split(",")[:ACCEPT_LANGUAGE_ITEMS_MAX]):
        tag, _, params = item.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        language = _tag_language(tag)
        if language is not None and q > 0:
            choices.append((-q, i, language))
    return min(choices)[2] if choices else None


def choose(cookie: str | None, user_choice: str | None, accept_language: str) -> str:
    """The language of a page: the switcher's choice (the signed-in person's, kept in
    their account, else this browser's cookie), then Accept-Language, then English."""
    for candidate in (user_choice, cookie):
        if candidate in LANGUAGES:
            return candidate
    return negotiate(accept_language) or DEFAULT_LANGUAGE


def zone_of(cookie: str | None, language: str) -> str:
    return cookie if cookie in TIME_ZONES else DEFAULT_ZONE[language]


@dataclasses.dataclass(frozen=True, slots=True)
class Formats:
    """Writes values for one language and time zone (what templates call)."""

    language: str
    zone: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(LANGUAGES[self.language])

    def gettext(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def amount(self, amount_minor: int, code: str) -> str:
        """An amount in minor units with its currency, e.g. "$12.50" in English or
        "US$12.50" in Chinese; exact: the digits come from the platform's own formatting
        (no float, no rounding), Babel only places symbol, grouping and separators."""
        text = money.format_minor(amount_minor, code)
        return format_currency(Decimal(text), code, locale=self.locale, currency_digits=False,
                               decimal_quantization=False)

    def chain_amount(self, amount_minor: int, code: str, decimals: int) -> str:
        """An on-chain amount of an asset with `decimals` places, e.g. "1,234.50 USD": the
        digits exact (the pattern has exactly `decimals` places, so nothing is rounded),
        grouping and separators the language's own (the explorer's assets need not be
        currencies Babel knows)."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        number = format_decimal(Decimal(amount_minor).scaleb(-max(decimals, 0)),
                                format=pattern, locale=self.locale)
        return f"{number} {code}"

    def moment(self, at_ms: int) -> str:
        """A time in the reader's zone, written the language's way, with the zone named."""
        at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
        return format_datetime(at, "medium", tzinfo=ZoneInfo(self.zone),
                               locale=self.locale) + " " + self.zone_name(at)

    def zone_name(self, at: datetime) -> str:
        return format_datetime(at, "z", tzinfo=ZoneInfo(self.zone), locale=self.locale)
