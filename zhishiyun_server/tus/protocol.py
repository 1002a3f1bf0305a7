"""The tus 1.0.0 protocol as a FastAPI router: core, creation, checksum, termination, expiration.

Spec: https://tus.io/protocols/resumable-upload. What this endpoint promises:

- ``OPTIONS`` advertises version, extensions and checksum algorithms (sha1, sha256); the
  size limit depends on the caller (413 on creation says it), so no ``Tus-Max-Size``.
- ``POST`` (creation) needs ``Upload-Length`` (no deferred length); ``Upload-Metadata`` is
  parsed strictly and handed to the hooks; the id is chosen here, never taken from metadata.
- ``PATCH`` writes at ``Upload-Offset`` only (409 otherwise); with ``Upload-Checksum`` the
  chunk is verified before it counts (460 and nothing kept on mismatch, 400 for an unknown
  algorithm); without a checksum, the bytes received before a dropped connection are kept
  so that the client can resume from there.
- ``DELETE`` (termination) removes the upload; later requests get 404.
- Expiration: unfinished uploads expire ``expiration_s`` after their last write (410 Gone,
  then removed); ``Upload-Expires`` says when.
- Another owner's upload answers 404, exactly like one that does not exist.
- One writer per upload: a PATCH, HEAD or DELETE waits while another request still writes
  the same upload (a client resuming before the server noticed its cut-off request), up to
  ``LOCK_WAIT_S`` (then 423, retryable); a PATCH silent for ``IDLE_S`` counts as cut off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from zhishiyun_server.tus.storage import ChunkWriter, UploadInfo, UploadStorage

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
#: Seconds a PATCH may go without receiving a byte before it is treated as cut off.
IDLE_S = 30.0
#: Seconds a request waits for another one writing the same upload before 423.
LOCK_WAIT_S = 10.0
OFFSET_TYPE = "application/offset+octet-stream"
_META_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
_DIGITS = re.compile(r"^[0-9]+$")


class TusError(Exception):
    """A refusal with an HTTP status, a snake_case code and a message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass(frozen=True)
class TusLimits:
    """Limits of the endpoint (the server may read them from its config on each request)."""

    max_size: int = 2 * 1024**3
    expiration_s: float = 24 * 3600.0


class TusHooks:
    """What the application decides; the defaults accept everyone as owner ``""``."""

    def owner_key(self, principal: Any) -> str:
        """The owner an upload is recorded under for ``principal``."""
        return ""

    def limits(self, principal: Any) -> TusLimits:
        """Limits that apply to ``principal`` now."""
        return TusLimits()

    def before_create(self, principal: Any, length: int, metadata: dict[str, str]) -> None:
        """Raise :class:`TusError` to refuse a new upload."""

    def on_complete(self, principal: Any, info: UploadInfo, storage: UploadStorage) -> None:
        """Called (in a worker thread) once the last byte of ``info`` is stored.

        Raising :class:`TusError` here turns the last PATCH's reply into that error
        (the bytes stay stored; the client learns that the upload was not accepted).
        """


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata`` → dict; raises :class:`TusError` 400 when malformed."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not _META_KEY.match(key) or len(parts) > 2 or key in result:
            raise TusError(400, "bad_metadata", "Upload-Metadata is malformed")
        try:
            value = base64.b64decode(parts[1], validate=True).decode("utf-8") \
                if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(400, "bad_metadata", f"Upload-Metadata {key} is not base64 UTF-8") \
                from None
        result[key] = value
    return result


def _encode_metadata(metadata: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())


def _http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _error(exc: TusError) -> JSONResponse:
    headers = {"Tus-Resumable": TUS_VERSION, **exc.headers}
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}},
                        status_code=exc.status, headers=headers)


def _int_header(request: Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None or not _DIGITS.match(raw.strip()):
        raise TusError(400, "bad_header", f"{name} must be a non-negative integer")
    return int(raw)


def _check_version(request: Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise TusError(412, "unsupported_version", "Tus-Resumable 1.0.0 is required",
                       {"Tus-Version": TUS_VERSION})


def _parse_checksum(header: str | None) -> tuple[Any, bytes] | None:
    if header is None:
        return None
    try:
        name, value = header.strip().split(" ", 1)
        digest = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise TusError(400, "bad_checksum", "Upload-Checksum is malformed") from None
    if name not in CHECKSUMS:
        raise TusError(400, "unsupported_checksum",
                       f"checksum algorithm {name!r} is not supported (sha1, sha256)")
    return CHECKSUMS[name](), digest


class _Writers:
    """One writer per upload at a time.

    A resumed client can arrive while the server still handles its cut-off request; both
    writing at one offset would corrupt the file. This lock lives in one server process; a
    deployment with several processes needs a shared one (``fcntl.flock`` on the upload's
    file, or a database row lock).
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, upload_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        self._users[upload_id] = self._users.get(upload_id, 0) + 1
        try:
            deadline = time.monotonic() + LOCK_WAIT_S
            while lock.locked():  # polled: no cancellation races around acquire()
                if time.monotonic() > deadline:
                    raise TusError(423, "upload_busy",
                                   "another request is still writing this upload; retry")
                await asyncio.sleep(0.02)
            await lock.acquire()  # free and no waiters: returns without suspending
            try:
                yield
            finally:
                lock.release()
        finally:
            self._users[upload_id] -= 1
            if not self._users[upload_id]:
                del self._users[upload_id], self._locks[upload_id]


def build_tus_router(storage: UploadStorage | Callable[[Request], UploadStorage],
                     hooks: TusHooks | None = None,
                     principal: Callable[..., Any] | None = None,
                     prefix: str = "/files") -> APIRouter:
    """The ``/files/`` router.

    Args:
        storage: the storage, or a callable returning it for a request (e.g. from app state).
        hooks: ownership, limits, admission and completion decisions.
        principal: a FastAPI dependency that authenticates the caller (raise 401 there);
            its result is handed to ``hooks``. Without it everyone is anonymous.
        prefix: where the endpoint lives.
    """
    hooks = hooks or TusHooks()
    router = APIRouter(prefix=prefix, tags=["tus"])
    get_storage = storage if callable(storage) else (lambda _request: storage)
    auth = Depends(principal) if principal is not None else Depends(lambda: None)

    writers = _Writers()

    def base_headers(info: UploadInfo | None = None) -> dict[str, str]:
        headers = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
        if info is not None and not info.complete and info.expires_at:
            headers["Upload-Expires"] = _http_date(info.expires_at)
        return headers

    def load(request: Request, upload_id: str, who: Any) -> tuple[UploadStorage, UploadInfo]:
        store = get_storage(request)
        info = store.get(upload_id)
        if info is None or info.owner != hooks.owner_key(who):
            raise TusError(404, "upload_not_found", "no such upload")
        if not info.complete and info.expires_at and info.expires_at < time.time():
            store.delete(info.id)
            raise TusError(410, "upload_expired", "this upload expired; start it again")
        return store, info

    last_sweep = [0.0]

    def sweep(store: UploadStorage) -> None:
        """Remove expired unfinished uploads (at most once a minute, on creation)."""
        now = time.time()
        if now - last_sweep[0] < 60:
            return
        last_sweep[0] = now
        for upload_id in store.ids():
            info = store.get(upload_id)
            if info and not info.complete and info.expires_at and info.expires_at < now:
                store.delete(upload_id)

    @router.options("/")
    @router.options("/{upload_id}")
    def options(upload_id: str = "") -> Response:
        return Response(status_code=204, headers={
            "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS, "Tus-Checksum-Algorithm": ",".join(CHECKSUMS)})

    @router.post("/")
    def create(request: Request, who: Any = auth) -> Response:
        try:
            _check_version(request)
            if "Upload-Defer-Length" in request.headers:
                raise TusError(400, "defer_length_unsupported",
                               "Upload-Defer-Length is not supported; send Upload-Length")
            length = _int_header(request, "Upload-Length")
            limits = hooks.limits(who)
            if length > limits.max_size:
                raise TusError(413, "upload_too_large",
                               f"upload of {length} bytes exceeds {limits.max_size}")
            metadata = parse_metadata(request.headers.get("Upload-Metadata"))
            hooks.before_create(who, length, metadata)
            store = get_storage(request)
            sweep(store)
            info = store.create(length, metadata, hooks.owner_key(who),
                                time.time() + limits.expiration_s)
            if length == 0:
                info.completed_at = time.time()
                store.save(info)
                hooks.on_complete(who, info, store)
        except TusError as exc:
            return _error(exc)
        log.info("tus upload %s created: %d bytes", info.id, length)
        return Response(status_code=201, headers={
            **base_headers(info), "Location": f"{router.prefix}/{info.id}"})

    @router.head("/{upload_id}")
    async def head(upload_id: str, request: Request, who: Any = auth) -> Response:
        try:
            _check_version(request)
            load(request, upload_id, who)
            async with writers.hold(upload_id):  # the offset after any write in progress
                _store, info = load(request, upload_id, who)
        except TusError as exc:
            return Response(status_code=exc.status, headers={"Tus-Resumable": TUS_VERSION,
                                                             **exc.headers})
        headers = {**base_headers(info), "Upload-Offset": str(info.offset),
                   "Upload-Length": str(info.length)}
        if info.metadata:
            headers["Upload-Metadata"] = _encode_metadata(info.metadata)
        return Response(status_code=200, headers=headers)

    @router.patch("/{upload_id}")
    async def patch(upload_id: str, request: Request, who: Any = auth) -> Response:
        try:
            _check_version(request)
            if request.headers.get("Content-Type", "").split(";")[0].strip() != OFFSET_TYPE:
                raise TusError(415, "bad_content_type", f"Content-Type must be {OFFSET_TYPE}")
            offset = _int_header(request, "Upload-Offset")
            checksum = _parse_checksum(request.headers.get("Upload-Checksum"))
            load(request, upload_id, who)  # 404/410 before waiting for the writer lock
            async with writers.hold(upload_id):
                store, info = load(request, upload_id, who)
                if offset != info.offset:
                    raise TusError(409, "offset_mismatch",
                                   f"Upload-Offset {offset} does not match {info.offset}",
                                   {"Upload-Offset": str(info.offset)})
                if info.expiry_window_s:  # a write renews the lease (saved by the commit)
                    info.expires_at = time.time() + info.expiry_window_s
                new_offset = await _receive(request, store, info, checksum)
                if info.complete:
                    info.completed_at = time.time()
                    store.save(info)
                    await run_in_threadpool(hooks.on_complete, who, info, store)
        except TusError as exc:
            return _error(exc)
        return Response(status_code=204, headers={**base_headers(info),
                                                  "Upload-Offset": str(new_offset)})

    @router.delete("/{upload_id}")
    async def delete(upload_id: str, request: Request, who: Any = auth) -> Response:
        try:
            _check_version(request)
            load(request, upload_id, who)
            async with writers.hold(upload_id):
                store, info = load(request, upload_id, who)
                store.delete(info.id)
        except TusError as exc:
            return _error(exc)
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})

    return router


class _Sink:
    """Writes and hashes a PATCH body on a helper thread while the event loop receives.

    hashlib and file writes release the GIL, so on a multi-core server the chunk is
    verified at the speed it arrives. Bytes are batched (``BATCH`` bytes) and at most two
    batches are in flight, in order.
    """

    BATCH = 1 << 20

    def __init__(self, writer: ChunkWriter, hasher: Any | None) -> None:
        self._writer, self._hasher = writer, hasher
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tus-sink")
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._pending: list[asyncio.Future] = []

    def _job(self, block: bytes) -> None:
        self._writer.write(block)
        if self._hasher is not None:
            self._hasher.update(block)

    async def feed(self, piece: bytes) -> None:
        self._buffer.append(piece)
        self._buffered += len(piece)
        if self._buffered >= self.BATCH:
            await self._flush()

    async def _flush(self) -> None:
        if not self._buffer:
            return
        block = b"".join(self._buffer)
        self._buffer, self._buffered = [], 0
        if len(self._pending) >= 2:
            await self._pending.pop(0)
        self._pending.append(asyncio.wrap_future(self._pool.submit(self._job, block)))

    async def drain(self) -> None:
        """Everything fed so far is written and hashed."""
        await self._flush()
        while self._pending:
            await self._pending.pop(0)

    def leftover(self) -> bytes:
        """Bytes fed but not yet handed to the helper thread (after ``close``)."""
        block = b"".join(self._buffer)
        self._buffer, self._buffered = [], 0
        return block

    async def close(self) -> None:
        """Wait for the helper thread (also after an error) and end it."""
        for future in self._pending:
            with contextlib.suppress(Exception):
                await future
        self._pending = []
        self._pool.shutdown(wait=True)


async def _receive(request: Request, store: UploadStorage, info: UploadInfo,
                   checksum: tuple[Any, bytes] | None) -> int:
    """Write the PATCH body at the offset; verify the checksum before it counts."""
    room = info.length - info.offset
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > room:
        raise TusError(413, "chunk_too_large", f"the chunk exceeds the {room} bytes left")
    writer = store.writer(info)
    sink = _Sink(writer, checksum[0] if checksum else None)
    received = 0
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    idle = {"timed_out": False}

    def _idle_timeout() -> None:  # a connection that stops sending must not hold the upload
        idle["timed_out"] = True
        if task is not None:
            task.cancel()

    watchdog = loop.call_later(IDLE_S, _idle_timeout)
    try:
        try:
            async for piece in request.stream():
                watchdog.cancel()
                watchdog = loop.call_later(IDLE_S, _idle_timeout)
                received += len(piece)
                if received > room:
                    raise TusError(413, "chunk_too_large",
                                   f"the chunk exceeds the {room} bytes left")
                await sink.feed(piece)
            await sink.drain()
        except asyncio.CancelledError:
            if not idle["timed_out"]:
                raise
            raise ClientDisconnect() from None
        finally:
            watchdog.cancel()
            await sink.close()
    except ClientDisconnect:
        if checksum is not None:  # an unverifiable chunk never counts
            writer.discard()
            raise TusError(400, "client_disconnected", "the chunk was cut short") from None
        writer.write(sink.leftover())
        new_offset = writer.commit()  # keep what arrived so the client can resume from it
        log.info("tus upload %s: connection dropped, kept offset %d", info.id, new_offset)
        raise TusError(400, "client_disconnected", "the chunk was cut short") from None
    except BaseException:
        writer.discard()
        raise
    if checksum is not None and checksum[0].digest() != checksum[1]:
        writer.discard()
        log.warning("tus upload %s: checksum mismatch at offset %d", info.id, info.offset)
        raise TusError(460, "checksum_mismatch", "the chunk does not match its checksum")
    return await run_in_threadpool(writer.commit)
