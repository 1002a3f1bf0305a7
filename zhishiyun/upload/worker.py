"""The one upload worker thread: takes items from the queue and delivers them.

Events (plain lists of callables; append to subscribe). **Every event fires on the upload
worker thread** (named ``upload-worker``); a UI must marshal them to its own thread, and a
callback must return quickly and must not call back into the worker except ``set_*``/``stop``.

- ``upload_did_progress(UploadProgress)``: after each accepted chunk and when an item ends
  (bytes, rate, ETA of that item; ``state`` is ``uploading``, ``done`` or ``failed``).
- ``session_did_progress(SessionProgress)``: right after each ``upload_did_progress``, the
  totals of that item's session.
- ``item_did_finish(QueueItem)``: an item reached ``done`` or ``failed``.
- ``worker_did_wait(reason: str, seconds: float)``: the worker pauses; ``reason`` is
  ``server_unreachable`` (every item left waits for a server that did not answer, answered
  5xx/408/429, or replied something unexpected; ``seconds`` until the next try) or
  ``not_logged_in`` (no token, or the server answered 401: it waits, ``inf`` seconds, until
  ``retry_now()`` after a login), or ``certificate_untrusted`` (the server's TLS certificate
  is not trusted: its items wait with that reason, ``inf`` seconds, until ``retry_now()``;
  retrying cannot help before the organisation's CA file is set as ``ca_bundle``); the UI
  can show "waiting for the network" / "log in again" / "certificate not trusted".

A segment's manifest line travels with the segment's tus creation (metadata ``manifest``)
when the segment is the next item after it, and so do the session's queued events (metadata
``events``) when that creation is the next thing to do; the server's ``Zhishiyun-Manifest:
recorded`` / ``Zhishiyun-Events: recorded`` settles those items with no request of their
own. Otherwise, and whenever segments back up, they are posted on their own before the
segments (the rule: :mod:`zhishiyun.upload.carry`).

Waiting never spins: with nothing to do the thread blocks on an event that an enqueue,
``retry_now()`` or ``stop()`` sets. A temporary failure (no answer, 5xx, 408/429) puts that
item's server on a capped, jittered exponential backoff; items for other servers go on,
and when everything left waits for a server the thread sleeps until the earliest retry
(``stop()`` and ``retry_now()`` interrupt it). A 401 waits for a new login instead;
any other 4xx marks the item ``failed`` with the reason.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from zhishiyun.api.errors import ApiError
from zhishiyun.api.operations import UnknownOperation, request_for
from zhishiyun.api.transport import Transport
from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import _
from zhishiyun.upload import carry
from zhishiyun.upload.policy import Backoff, ChunkSizer, TokenBucket
from zhishiyun.upload.queue import PENDING, QueueItem, UploadQueue
from zhishiyun.upload.tus import (
    CERTIFICATE_UNTRUSTED,
    EVENTS_HEADER,
    MANIFEST_HEADER,
    Cancelled,
    PostFirst,
    UploadError,
    UploadExpired,
    classify,
    send_segment,
)

log = logging.getLogger(__name__)

#: The first chunk of an upload (most 30 s segments fit in one); later chunks follow the
#: measured rate (:class:`~zhishiyun.upload.policy.ChunkSizer`).
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024


class UploadsBusy(ZhishiyunError):
    """Another Zhishiyun process is already uploading from this queue."""

    code = "uploads_busy"


def queue_lock_path(queue_path: object) -> str:
    """The lock file beside an upload queue that one uploading process at a time holds."""
    return str(queue_path) + ".lock"


def lock_exclusive(path: str) -> IO[bytes]:
    """An exclusive, non-blocking lock on ``path`` (released when the file is closed).

    Raises:
        UploadsBusy: another process holds it.
    """
    handle = open(path, "a+b")  # noqa: SIM115 - kept open while the worker runs
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UploadsBusy(_("Uploads are already running in another Zhishiyun window."),
                          hint=_("Close it or wait until it has finished.")) from None
    return handle


@dataclass(frozen=True)
class UploadProgress:
    """Progress of one item."""

    item_id: int
    session_id: str
    label: str
    bytes_done: int
    bytes_total: int
    rate_bps: float
    eta_s: float | None
    state: str


@dataclass(frozen=True)
class SessionProgress:
    """Progress of every queued item of one session."""

    session_id: str
    bytes_done: int
    bytes_total: int
    items_done: int
    items_total: int
    items_failed: int
    rate_bps: float
    eta_s: float | None


class _Rate:
    """Bytes per second, smoothed over recent chunks."""

    def __init__(self) -> None:
        self.value = 0.0
        self._last = time.monotonic()

    def restart(self) -> None:
        self._last = time.monotonic()

    def add(self, nbytes: int) -> None:
        now = time.monotonic()
        elapsed = max(now - self._last, 1e-6)
        self._last = now
        sample = nbytes / elapsed
        self.value = sample if self.value == 0 else 0.7 * self.value + 0.3 * sample


def _eta(remaining: int, rate: float) -> float | None:
    return remaining / rate if rate > 0 else None


class UploadWorker:
    """Delivers queued items one at a time, on its own thread.

    Args:
        queue: the persistent queue.
        tokens: returns the candidate's current bearer token (None: not logged in; items
            wait until ``retry_now()`` after a login).
        chunk_size: a fixed tus chunk size in bytes; None (the default) sizes chunks to
            about one second of transfer each, from 256 KiB to 32 MiB, starting at
            ``DEFAULT_CHUNK_SIZE`` (at most one chunk is re-sent after a crash).
        backoff: delays after failures.
        rate_limit_bps: initial upload cap (None: unlimited); change with ``set_rate_limit``.
        timeout: (connect, read) seconds of the transport built when none is given.
        transport: the client's one transport (CA bundle, proxy, deadlines); without it
            one with the system's CAs and ``timeout`` is built.
    """

    def __init__(self, queue: UploadQueue, tokens: Callable[[], str | None], *,
                 chunk_size: int | None = None, backoff: Backoff | None = None,
                 rate_limit_bps: float | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0),
                 transport: Transport | None = None) -> None:
        self.queue = queue
        self._tokens = tokens
        self.chunk_size = chunk_size
        #: Template for the per-server backoffs (its base and cap are used).
        self.backoff = backoff or Backoff(base=1.0, cap=30.0)
        self._backoffs: dict[str, Backoff] = {}
        self._cooling: dict[str, float] = {}  # server → monotonic time of the next try
        self.bucket = TokenBucket(rate_limit_bps)
        self._sizer = ChunkSizer(chunk_size or DEFAULT_CHUNK_SIZE, fixed=chunk_size is not None,
                                 rate_cap=lambda: self.bucket.rate)
        self.transport = transport or Transport(connect_timeout=timeout[0],
                                                read_timeout=timeout[1])
        self._untrusted: set[str] = set()  # servers whose certificate is not trusted
        # tus servers that ignore a manifest line / events carried by a creation
        self._plain_lines: set[str] = set()
        self._plain_events: set[str] = set()
        self.current_session: str | None = None
        self.upload_did_progress: list[Callable[[UploadProgress], None]] = []
        self.session_did_progress: list[Callable[[SessionProgress], None]] = []
        self.item_did_finish: list[Callable[[QueueItem], None]] = []
        self.worker_did_wait: list[Callable[[str, float], None]] = []
        self._stop = threading.Event()
        self._poke = threading.Event()   # cuts a backoff short
        self._wake = threading.Event()   # something new to do
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._rate = _Rate()
        self._lock: IO[bytes] | None = None
        queue.item_was_added.append(lambda _id: self._wake.set())

    # --- control (any thread) ----------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (once).

        Raises:
            UploadsBusy: another process runs a worker on the same queue.
        """
        if self._thread is None:
            self._lock = lock_exclusive(queue_lock_path(self.queue.path))
            self.queue.recover_interrupted()
            self._thread = threading.Thread(target=self._run, name="upload-worker",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the worker to stop after the current chunk; True if it stopped in time."""
        self._stop.set()
        self._poke.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def set_rate_limit(self, bytes_per_second: float | None) -> None:
        """Cap the upload rate now (e.g. while an interview is live); None lifts it."""
        self.bucket.set_rate(bytes_per_second)

    def set_current_session(self, session_id: str | None) -> None:
        """Items of this session go first."""
        self.current_session = session_id
        self._wake.set()

    def retry_now(self) -> None:
        """Cut a backoff short (network back, logged in again)."""
        self._poke.set()
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or uploading (failed items do not count)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self._idle.wait(left) and self.queue.unfinished() == 0:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if self._stop.is_set():
                return False
            time.sleep(0.05)

    # --- the thread --------------------------------------------------------------------

    def _emit(self, listeners: list, value: object) -> None:
        for callback in list(listeners):
            try:
                callback(value)
            except Exception:  # a listener's bug must not stop uploads
                log.exception("upload listener failed")

    def _progress(self, item: QueueItem, done: int, state: str) -> None:
        rate = self._rate.value
        self._emit(self.upload_did_progress, UploadProgress(
            item.id, item.session_id, item.label, done, item.size, rate,
            _eta(item.size - done, rate), state))
        totals = self.queue.session_totals(item.session_id)
        self._emit(self.session_did_progress, SessionProgress(
            item.session_id, totals["bytes_done"], totals["bytes_total"], totals["items_done"],
            totals["items_total"], totals["items_failed"], rate,
            _eta(totals["bytes_total"] - totals["bytes_done"], rate)))

    def _pause(self, reason: str, seconds: float | None) -> None:
        for callback in list(self.worker_did_wait):
            try:
                callback(reason, seconds if seconds is not None else float("inf"))
            except Exception:
                log.exception("upload listener failed")
        if self._poke.wait(seconds):  # retry_now() or stop(): try every server again
            self._poke.clear()
            self._cooling.clear()
            self._untrusted.clear()

    def _backoff_for(self, host: str) -> Backoff:
        if host not in self._backoffs:
            self._backoffs[host] = Backoff(self.backoff.base, self.backoff.cap)
        return self._backoffs[host]

    def _cool_down(self, item: QueueItem, reason: str) -> None:
        """A temporary failure: leave this server alone for a while (others go on)."""
        delay = self._backoff_for(item.host).next_delay()
        self._cooling[item.host] = time.monotonic() + delay
        log.warning("upload %s: %s; retrying %s in %.1f s", item.label, reason, item.host,
                    delay)
        self.queue.mark_retry(item.id, reason)

    def _server_ok(self, item: QueueItem) -> None:
        self._backoff_for(item.host).reset()
        self._cooling.pop(item.host, None)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                now = time.monotonic()
                cooling = {h: t for h, t in self._cooling.items() if t > now}
                skip_hosts = {*cooling, *self._untrusted}
                item = self.queue.next_pending(self.current_session, skip_hosts=skip_hosts)
                if item is None and cooling:  # everything left waits for a server
                    self._pause("server_unreachable", min(cooling.values()) - now)
                    continue
                if item is None and self._untrusted:
                    self._pause(CERTIFICATE_UNTRUSTED, None)
                    continue
                if item is None:
                    self._idle.set()
                    self._wake.wait()
                    continue
                self._idle.clear()
                token = self._tokens()
                if not token:
                    log.info("uploads wait for a login")
                    self._pause("not_logged_in", None)
                    continue
                ride = carry.plan(self.queue, item, current_session=self.current_session,
                                  skip_hosts=skip_hosts, plain_lines=self._plain_lines,
                                  plain_events=self._plain_events)
                if ride is not None:
                    self._deliver_ride(ride, token)
                else:
                    self._deliver(item, token)
        finally:
            self._idle.set()
            if self._lock is not None:
                self._lock.close()

    def _deliver_ride(self, ride: carry.Ride, token: str) -> None:
        """Create ``ride.segment``'s upload carrying its line and events, then upload it.

        What the server says it recorded is done before any byte of the segment is sent.
        Anything else stops the segment after its creation (resumed later, one HEAD) and
        leaves those items pending, so they are posted first as usual.
        """
        segment = ride.segment

        def settle(items, reply: str | None, plain: set[str], what: str) -> bool:
            if reply == "recorded":
                for settled in items:
                    self.queue.mark_progress(settled.id, settled.size, settled.size)
                    self.queue.mark_done(settled.id)
                    self._finished(settled)
                return True
            if reply is None:
                log.info("%s does not take %s with a creation; they are posted", segment.host,
                         what)
                plain.add(segment.host)
            else:
                log.info("upload %s: its %s were not recorded with it (%s); posting them",
                         segment.label, what, reply)
            return False

        def created(headers: Mapping[str, str]) -> bool:
            recorded = True
            if ride.line_item is not None:
                recorded &= settle([ride.line_item], headers.get(MANIFEST_HEADER),
                                   self._plain_lines, "manifest lines")
            if ride.event_items:
                recorded &= settle(ride.event_items, headers.get(EVENTS_HEADER),
                                   self._plain_events, "events")
            return recorded

        self._deliver(segment, token, carried=(ride.metadata(), created))

    def _deliver(self, item: QueueItem, token: str,
                 carried: tuple[dict[str, str], Callable[[Mapping[str, str]], bool]]
                 | None = None) -> None:
        self.queue.mark_uploading(item.id)
        headers = {"Authorization": f"Bearer {token}"}
        self._rate.restart()
        try:
            if item.kind == "segment":
                send_segment(
                    item, self.queue, headers=headers, transport=self.transport,
                    sizer=self._sizer, cancel=self._stop,
                    before_chunk=self._before_chunk,
                    after_chunk=lambda offset, sent: self._after_chunk(item, offset, sent),
                    carry=carried)
            else:
                self._send_json(item, token)
        except Cancelled:
            self.queue.mark_retry(item.id, "stopped")
            return
        except PostFirst:  # created; resumed once what it carried has been posted
            self._server_ok(item)
            self.queue.mark_retry(item.id, "")
            return
        except UploadExpired as exc:
            log.info("upload %s: %s; restarting from zero", item.label, exc.message)
            self.queue.mark_retry(item.id, exc.message)
            return
        except UploadError as exc:
            if exc.untrusted:  # waits for a CA bundle; retrying now cannot help
                log.error("upload %s: the certificate of %s is not trusted", item.label,
                          item.host)
                self._untrusted.add(item.host)
                self.queue.mark_retry(item.id, CERTIFICATE_UNTRUSTED)
                for other in self.queue.items():  # all of this server's items wait for it
                    if other.state == PENDING and other.host == item.host:
                        self.queue.mark_retry(other.id, CERTIFICATE_UNTRUSTED)
                return
            if exc.status == 401:  # the login expired: wait for a new one, lose nothing
                log.warning("upload %s: the server wants a new login", item.label)
                self.queue.mark_retry(item.id, exc.message)
                self._pause("not_logged_in", None)
                return
            if exc.permanent:
                log.error("upload %s failed for good: %s", item.label, exc.message)
                self.queue.mark_failed(item.id, exc.message)
                self._finished(item)
                return
            self._cool_down(item, exc.message)
            return
        except OSError as exc:  # the file vanished or the disk failed under us
            self.queue.mark_failed(item.id, f"cannot read the file: {exc}")
            self._finished(item)
            return
        except Exception as exc:  # a bug or a surprise reply: keep the item, keep the thread
            log.exception("upload %s: unexpected error", item.label)
            self._cool_down(item, f"unexpected error: {exc}")
            return
        self._server_ok(item)
        self.queue.mark_done(item.id)
        self.queue.remove_url(f"item:{item.id}")
        self._finished(item)

    def _before_chunk(self, length: int) -> bool:
        return self.bucket.take(length, self._stop)

    def _after_chunk(self, item: QueueItem, offset: int, sent: int) -> None:
        self._server_ok(item)
        self._rate.add(sent)
        self._progress(item, offset, "uploading")

    def _finished(self, item: QueueItem) -> None:
        final = self.queue.get(item.id)
        self._progress(final, final.bytes_done, final.state)
        self._emit(self.item_did_finish, final)

    def _send_json(self, item: QueueItem, token: str) -> None:
        if self._stop.is_set():
            raise Cancelled()
        self.bucket.take(item.size, self._stop)
        body = (item.payload or "").encode()
        method, url = item.method, item.target  # a row from an older version: its URL
        if item.operation:
            try:
                request = request_for(item.operation, item.server or "", item.session_id,
                                      item.arguments)
            except UnknownOperation as exc:
                raise UploadError(str(exc), permanent=True) from exc
            method, url = request.method, request.url
        try:
            resp = self.transport.send(method, url, bearer=token, data=body,
                                       headers={"Content-Type": "application/json"},
                                       deadline=self.transport.deadline_for(len(body)))
        except ApiError as exc:
            if exc.code == "tls":
                raise UploadError(f"{CERTIFICATE_UNTRUSTED}: {exc.server_message}",
                                  permanent=False, untrusted=True) from exc
            raise classify(None, exc.server_message or exc.code) from exc
        if not 200 <= resp.status_code < 300:
            raise classify(resp.status_code, resp.text[:300])
        self.queue.mark_progress(item.id, item.size, item.size)
