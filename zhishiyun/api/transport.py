"""The one road to the exam server and its file store: :class:`Transport`.

Every HTTP request of the client (API calls, tus uploads, face login, update checks and
downloads, attachments, the bandwidth test, the phone-binding calls) goes through one
configured :class:`TransportSession`:

- TLS verified against the system's CAs (the OS store Python finds, plus certifi) **and**
  the organisation's ``ca_bundle`` (added, never replacing);
- the ``proxy`` setting, else the environment's or the system's proxy;
- ``User-Agent: Zhishiyun/<version>``; the bearer token when a call asks for it;
- redirects to another host (or from https to http) refused;
- a **total deadline** per request: connect, headers and every read of the body. A
  watchdog shuts the socket down when the deadline passes, so a server that drips one byte
  every two seconds cannot hold a request past it (a per-read timeout alone would wait
  forever);
- reply size caps: JSON replies, attachments and release files each have their own.

Failures become :class:`~zhishiyun.api.errors.ApiError` with a client code: ``tls`` (the
certificate is not trusted), ``timeout``, ``network``, ``reply_too_large``, ``bad_reply``.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

import zhishiyun
from zhishiyun.api.errors import ApiError
from zhishiyun.api.http_session import (
    DeadlineExceeded,
    RedirectRefused,
    TransportAdapter,
    TransportSession,
    trust_context,
)

__all__ = ["ATTACHMENT_MAX_BYTES", "JSON_MAX_BYTES", "MIN_RATE_BPS", "RELEASE_MAX_BYTES",
           "Caps", "DeadlineExceeded", "RedirectRefused", "Transport", "TransportSession",
           "api_error_for", "is_untrusted_certificate", "trust_context"]

log = logging.getLogger(__name__)

KIB, MIB = 1024, 1024 * 1024
#: Largest JSON reply read (exam lists with rules, papers lists, release manifests).
JSON_MAX_BYTES = 8 * MIB
#: Largest attachment or paper file saved.
ATTACHMENT_MAX_BYTES = 200 * MIB
#: Largest release file (installer) downloaded; the signed size must also match.
RELEASE_MAX_BYTES = 1024 * MIB
#: The slowest link a transfer's deadline still allows for (bytes per second).
MIN_RATE_BPS = 64 * KIB

@dataclass(frozen=True)
class Caps:
    """Reply size caps in bytes."""

    json: int = JSON_MAX_BYTES
    attachment: int = ATTACHMENT_MAX_BYTES
    release: int = RELEASE_MAX_BYTES


def is_untrusted_certificate(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a failed certificate verification."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or \
                "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        todo.extend(e for e in (current.__cause__, current.__context__,
                                getattr(current, "reason", None), *getattr(current, "args", ()))
                    if isinstance(e, BaseException))
    return False


def api_error_for(exc: requests.RequestException) -> ApiError:
    """The :class:`ApiError` for a failed request (no usable reply)."""
    if is_untrusted_certificate(exc):
        return ApiError(0, "tls", str(exc))
    if isinstance(exc, RedirectRefused):
        return ApiError(0, "bad_reply", str(exc))
    if isinstance(exc, requests.Timeout):
        return ApiError(0, "timeout", str(exc))
    return ApiError(0, "network", str(exc))


class Transport:
    """One configured session plus the helpers every server call uses.

    Args:
        ca_bundle: the organisation's extra PEM bundle ('' for the system's CAs only).
        proxy: an HTTP(S) proxy URL ('' for the environment's or the system's).
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for each read, and the base of every deadline.
        caps: reply size caps.
    """

    def __init__(self, *, ca_bundle: str = "", proxy: str = "", connect_timeout: float = 5.0,
                 read_timeout: float = 20.0, caps: Caps | None = None) -> None:
        self.ca_bundle = ca_bundle
        self.connect_timeout, self.read_timeout = float(connect_timeout), float(read_timeout)
        self.caps = caps or Caps()
        self.session = TransportSession(
            default_deadline=self.deadline_for(0), read_timeout=self.read_timeout,
            connect_timeout=self.connect_timeout,
            proxies={"http": proxy, "https": proxy} if proxy else None)
        self.session.headers["User-Agent"] = f"Zhishiyun/{zhishiyun.__version__}"
        self.session.headers["Accept"] = "application/json"
        adapter = TransportAdapter(self._context(ca_bundle))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    @classmethod
    def from_settings(cls, settings: Any) -> Transport:
        """The transport configured by :class:`zhishiyun.config.Settings`."""
        return cls(ca_bundle=settings.ca_bundle, proxy=settings.proxy,
                   connect_timeout=settings.connect_timeout,
                   read_timeout=settings.read_timeout)

    @staticmethod
    def _context(ca_bundle: str) -> ssl.SSLContext:
        if ca_bundle and not Path(ca_bundle).is_file():
            log.warning("CA bundle %s does not exist; using the system CAs only", ca_bundle)
            ca_bundle = ""
        try:
            return trust_context(ca_bundle)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.warning("CA bundle %s cannot be used (%s); using the system CAs only",
                        ca_bundle, exc)
            return trust_context("")

    def deadline_for(self, nbytes: int = 0) -> float:
        """Seconds a request moving ``nbytes`` may take in total (connect + all reads)."""
        return self.connect_timeout + self.read_timeout + max(0, nbytes) / MIN_RATE_BPS

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # --- requests -------------------------------------------------------------------

    def send(self, method: str, url: str, *, bearer: str | None = None,
             deadline: float | None = None, max_bytes: int | None = None,
             **kwargs: Any) -> requests.Response:
        """Send a request and read its whole reply (at most ``max_bytes``).

        Returns the response, closed, with ``content`` read; any status.

        Raises:
            ApiError: ``tls``, ``timeout``, ``network``, ``reply_too_large`` or ``bad_reply``.
        """
        limit = self.caps.json if max_bytes is None else max_bytes
        with self.stream(method, url, bearer=bearer, deadline=deadline, **kwargs) as response:
            response._content = self.read_all(response, limit)  # noqa: SLF001
        return response

    @contextlib.contextmanager
    def stream(self, method: str, url: str, *, bearer: str | None = None,
               deadline: float | None = None, **kwargs: Any) -> Iterator[requests.Response]:
        """A streamed response (inside ``with``); the deadline covers reading it too."""
        headers = dict(kwargs.pop("headers", None) or {})
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            response = self.session.request(method, url, headers=headers, stream=True,
                                            deadline=deadline, **kwargs)
        except requests.RequestException as exc:
            raise api_error_for(exc) from exc
        try:
            yield response
        finally:
            response.deadline_guard.cancel()  # type: ignore[attr-defined]
            response.close()

    @staticmethod
    def chunks(response: requests.Response, limit: int,
               chunk_size: int = 64 * KIB) -> Iterator[bytes]:
        """The body of a streamed ``response`` in chunks; ``reply_too_large`` past ``limit``."""
        guard = getattr(response, "deadline_guard", None)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(response.status_code, "reply_too_large",
                           f"reply of {declared} bytes is over the {limit}-byte cap")
        total = 0
        try:
            for chunk in response.iter_content(chunk_size):
                if guard is not None and guard.expired:
                    raise DeadlineExceeded(f"no complete reply within {guard.seconds:g} s")
                total += len(chunk)
                if total > limit:
                    raise ApiError(response.status_code, "reply_too_large",
                                   f"reply over the {limit}-byte cap")
                yield chunk
        except requests.RequestException as exc:
            if guard is not None and guard.expired:
                raise ApiError(0, "timeout", f"deadline of {guard.seconds:g} s passed") from exc
            raise api_error_for(exc) from exc
        if guard is not None and guard.expired:
            raise ApiError(0, "timeout", f"deadline of {guard.seconds:g} s passed")

    def read_all(self, response: requests.Response, limit: int) -> bytes:
        """The whole body of a streamed ``response`` (at most ``limit`` bytes)."""
        return self.read_all_of(response, limit)

    @classmethod
    def read_all_of(cls, response: requests.Response, limit: int) -> bytes:
        """The whole body of a streamed ``response``; its deadline is disarmed after."""
        try:
            return b"".join(cls.chunks(response, limit))
        finally:
            guard = getattr(response, "deadline_guard", None)
            if guard is not None:
                guard.cancel()

    def save(self, response: requests.Response, target: Path, limit: int,
             progress: Callable[[int], None] | None = None) -> int:
        """Write a streamed body to ``target`` via ``<name>.part``; returns its size."""
        part = target.with_name(target.name + ".part")
        done = 0
        try:
            with part.open("wb") as fh:
                for chunk in self.chunks(response, limit):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(target)
        return done
