"""Languages of the web pages: Bahasa Indonesia (default) and English, through Babel gettext catalogs.

msgids are the Bahasa strings themselves, so a page in Bahasa needs no lookup and a missing English
translation shows Bahasa rather than a key. The ``.po`` files in ``web/translations`` are the only
source: they are compiled to gettext catalogs in memory the first time a language is used (a few
milliseconds), so there is no committed ``.mo`` that can drift from its ``.po``.

The language of a request is, in order: ``?lang=`` (which the app also remembers in a cookie), the
``lang`` cookie, the ``Accept-Language`` header, else Bahasa.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import HTTPConnection

TRANSLATIONS_DIR = Path(__file__).with_name("translations")
DOMAIN = "messages"
DEFAULT_LANGUAGE = "id"
LANGUAGES: dict[str, str] = {"id": "Bahasa Indonesia", "en": "English"}
LANG_COOKIE = "lang"
LANG_PARAM = "lang"


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction without translating it yet (translated when rendered)."""
    return message


def po_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext_module.NullTranslations:
    """The compiled catalog of ``language``; the Bahasa one (msgid = text) when unknown or absent."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    path = po_path(language)
    if not path.is_file():
        return gettext_module.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    # Fuzzy entries are guesses by `pybabel update`; showing them would put wrong English on a page.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def say(language: str, msgid: str, params: Mapping[str, str] | None = None) -> str:
    """A message with parameters (the services' ``(msgid, params)`` refusals) in ``language``; each
    parameter is translated too when it is itself a msgid (a state's label), else kept as it is."""
    text = gettext(language, msgid)
    return text % {key: gettext(language, str(value)) for key, value in params.items()} if params else text


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


def _valid(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()[:8]
    return value if value in LANGUAGES else None


def accept_language(header: str | None) -> str | None:
    """The best of our languages for an ``Accept-Language`` header, by the client's q-values."""
    if not header:
        return None
    preferred: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag:
            preferred.append((-quality, position, tag.strip().replace("-", "_")))
    ordered = [tag for quality, _, tag in sorted(preferred) if quality < 0]
    # "in" is the withdrawn ISO 639 code for Indonesian that some old phones still send.
    ordered = ["id" if tag.lower().split("_")[0] == "in" else tag for tag in ordered]
    return negotiate_locale(ordered, list(LANGUAGES), sep="_")


def language_of(connection: HTTPConnection) -> str:
    """The language a request is answered in (see the module docstring for the order)."""
    return (
        _valid(connection.query_params.get(LANG_PARAM))
        or _valid(connection.cookies.get(LANG_COOKIE))
        or accept_language(connection.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )
