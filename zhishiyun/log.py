"""Logging: rotating files in the data dir plus the console, with secrets masked.

The :class:`MaskingFilter` sits on every handler, so every record from every logger
(ours and third-party ones such as urllib3) is masked before it is written: Chinese ID
numbers keep their first 3 and last 2 characters, phone numbers their first 3 and last 4,
bearer tokens, phone credentials (``zsyp_…``), passwords (quoted ones up to their closing
quote, spaces included), session keys and URL passwords are replaced. ID numbers and phone
numbers are found even when glued to letters (``user110101…``).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
# Digits around are not part of an ID number; letters may be ("id110101…", "…11abc").
_ID_NUMBER = re.compile(r"(?<!\d)(\d{3})(\d{13}|\d{10})(\d[\dXx])(?![\dXx])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# A phone's upload credential (``zsyp_…``) wherever it appears, e.g. inside a URL.
_PHONE_CREDENTIAL = re.compile(r"zsyp_[A-Za-z0-9_-]+")
_SECRET_NAMES = (r"password|passwd|pass|pwd|token|session_key|secret|api_key|authorization"
                 r"|credential|cookie|x-review-secret")
# A quoted value is masked to its closing quote (passwords may contain spaces and commas).
_SECRET_QUOTED = re.compile(
    rf"(?i)([\"']?\b(?:{_SECRET_NAMES})[\"']?\s*[:=]\s*)(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")
# An unquoted value runs to the end of the field: a separator or the end of the line.
_SECRET_BARE = re.compile(
    rf"(?i)(\b(?:{_SECRET_NAMES})\s*[:=]\s*)(?![\s\"'*])([^,&;}}\n]*[^,&;}}\n\s])")
_URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@")


def _quoted_mask(match: re.Match) -> str:
    quote = match.group(2)[0]
    return f"{match.group(1)}{quote}***{quote}"


def mask(text: str) -> str:
    """Return ``text`` with ID numbers, phones, tokens, keys and passwords masked."""
    text = _BEARER.sub(r"\1***", text)
    text = _PHONE_CREDENTIAL.sub("zsyp_***", text)
    text = _SECRET_QUOTED.sub(_quoted_mask, text)
    text = _SECRET_BARE.sub(r"\1***", text)
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    text = _PHONE.sub(r"\1****\2", text)
    return text


def mask_id_number(id_number: str) -> str:
    """An ID number as it may appear in logs and on screen: ``110***********11``."""
    if len(id_number) <= 5:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 5) + id_number[-2:]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record.

    Test runners and GUIs swap ``sys.stderr``; a handler holding the old stream would
    write to a closed file.
    """

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class MaskingFilter(logging.Filter):
    """Masks the formatted message, exception text and stack of every record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102 - logging API
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = mask(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def setup_logging(
    log_dir: Path | None, level: str = "INFO", *, console_level: str = "WARNING"
) -> Path | None:
    """Configure the root logger once: a rotating file (5 × 2 MB) and stderr.

    Returns the log file path, or None when the directory cannot be written (the console
    still logs, and says so).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_zhishiyun", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG)
    masking = MaskingFilter()
    console = _StderrHandler()
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.addFilter(masking)
    # Records logged with extra={"console": False} were already told to the user in their
    # own words (the CLI's one-line error); they go to the file only.
    console.addFilter(lambda record: getattr(record, "console", True))
    console._zhishiyun = True  # type: ignore[attr-defined]
    root.addHandler(console)
    log_file = None
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_file = log_dir / "zhishiyun.log"
            handler = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError as exc:
            logging.getLogger(__name__).warning("cannot write logs to %s: %s", log_dir, exc)
            return None
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(masking)
        handler._zhishiyun = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("urllib3", "PIL", "asyncio", "multipart"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    return log_file
