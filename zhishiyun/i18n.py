"""One translation pipeline for the whole app (core and UI): gettext catalogs.

Source strings are English. Catalogs live in ``resources/locale/<lang>/LC_MESSAGES/
zhishiyun.po`` and are compiled to ``.mo`` by ``python -m zhishiyun.i18n`` (Babel), which
the setup script, the test command and the installer build run. When a ``.mo`` is missing
or older than its ``.po`` (a fresh checkout), the catalog is compiled in memory with
Babel if it is installed.

``_("...")`` translates now; ``N_("...")`` marks a string for extraction only. The
``pseudo`` language lengthens every string by about 40 % to test layouts.
"""

from __future__ import annotations

import gettext
import io
import locale
import logging
import os
import threading
from pathlib import Path

from zhishiyun import paths

DOMAIN = "zhishiyun"
log = logging.getLogger(__name__)
_lock = threading.Lock()
_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"

_PSEUDO_MAP = str.maketrans("aeiouAEIOUcnsyCNSY", "àéîõüÀÉÎÕÜçñšýÇÑŠÝ")


class PseudoTranslations(gettext.NullTranslations):
    """Accented, bracketed and ~40 % longer strings; placeholders are kept intact."""

    @staticmethod
    def _pseudo(message: str) -> str:
        out, depth = [], 0
        for ch in message:
            depth += ch == "{"
            out.append(ch if depth else ch.translate(_PSEUDO_MAP))
            depth -= ch == "}" and depth > 0
        padding = "~" * max(2, len(message) * 2 // 5)
        return "[" + "".join(out) + padding + "]"

    def gettext(self, message: str) -> str:  # noqa: D102
        return self._pseudo(message) if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:  # noqa: D102
        return self._pseudo(singular if n == 1 else plural)


def locale_dir() -> Path:
    """Directory holding ``<lang>/LC_MESSAGES/zhishiyun.(po|mo)``."""
    return paths.resources_dir() / "locale"


def system_language() -> str:
    """zh_CN for any Chinese system locale, English otherwise."""
    candidates = [os.environ.get(v, "") for v in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")]
    try:
        candidates.append(locale.getlocale()[0] or "")
    except ValueError:
        pass
    if os.name == "nt":  # pragma: no cover - Windows only
        import ctypes

        lcid = ctypes.windll.kernel32.GetUserDefaultUILanguage()
        candidates.append(locale.windows_locale.get(lcid, ""))
    return "zh_CN" if any(c.lower().startswith("zh") for c in candidates) else "en"


def _load_catalog(language: str) -> gettext.NullTranslations:
    base = locale_dir() / language / "LC_MESSAGES"
    mo, po = base / f"{DOMAIN}.mo", base / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if po.exists():
        try:
            return gettext.GNUTranslations(io.BytesIO(_compile_po(po)))
        except ImportError:
            log.warning("catalog %s is not compiled and Babel is missing: English used", po)
    return gettext.NullTranslations()


def _compile_po(po: Path) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def set_language(language: str) -> str:
    """Switch the process-wide language (``auto`` follows the system); returns the code."""
    global _translation, _language
    resolved = system_language() if language in ("", "auto") else language
    catalog = PseudoTranslations() if resolved == "pseudo" else (
        gettext.NullTranslations() if resolved == "en" else _load_catalog(resolved)
    )
    with _lock:
        _translation, _language = catalog, resolved
    return resolved


def current_language() -> str:
    """The language in use: ``zh_CN``, ``en`` or ``pseudo``."""
    return _language


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with a plural form."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet."""
    return message


def compile_catalogs() -> list[Path]:
    """Compile every ``.po`` under :func:`locale_dir` to ``.mo`` (needs Babel)."""
    written = []
    for po in sorted(locale_dir().glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(_compile_po(po))
        written.append(mo)
    return written


if __name__ == "__main__":  # python -m zhishiyun.i18n: compile the catalogs
    for path in compile_catalogs():
        print(f"compiled {path}")
