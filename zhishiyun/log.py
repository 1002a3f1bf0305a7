"""Logging: rotating files in the data dir plus the console, with secrets masked.

The :class:`MaskingFilter` sits on every handler, so every record from every logger
(ours and third-party ones such as urllib3) is masked before it is written: Chinese ID
numbers keep their first 3 and last 2 characters, phone numbers their first 3 and last 4,
bearer tokens, passwords, session keys and tus upload URLs' tokens are replaced.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{3})(\d{13}|\d{10})(\d[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_SECRET_FIELD = re.compile(
    r"(?i)([\"']?(?:password|passwd|token|session_key|secret|api_key|authorization)[\"']?"
    r"\s*[:=]\s*[\"']?)([^\"'\s,&}]+)"
)
_URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@")


def mask(text: str) -> str:
    """Return ``text`` with ID numbers, phones, tokens and passwords masked."""
    text = _BEARER.sub(r"\1***", text)
    text = _SECRET_FIELD.sub(r"\1***", text)
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
