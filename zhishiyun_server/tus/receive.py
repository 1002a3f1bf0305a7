"""Receiving a PATCH body: one writer per upload, written and hashed off the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from zhishiyun_server.tus.errors import TusError
from zhishiyun_server.tus.storage import ChunkWriter, UploadInfo, UploadStorage

log = logging.getLogger(__name__)

#: Seconds a PATCH may go without receiving a byte before it is treated as cut off.
IDLE_S = 30.0
#: Seconds a request waits for another one writing the same upload before 423.
LOCK_WAIT_S = 10.0


class Writers:
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
        """Hold ``upload_id`` for one request (423 after ``LOCK_WAIT_S`` of waiting)."""
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


async def receive(request: Request, store: UploadStorage, info: UploadInfo,
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
