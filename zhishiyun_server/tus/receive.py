"""Receiving a PATCH body: written and hashed off the event loop, committed with its completion.

One writer per upload: the protocol's in-process :class:`Writers` (re-exported here with
``LOCK_WAIT_S``), and for a storage shared by several processes its ``write_lease`` (a
database lease, :mod:`zhishiyun_server.tus.shared`) around the whole PATCH.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from zhishiyun_server.tus.errors import TusError
from zhishiyun_server.tus.storage import (  # noqa: F401 - Writers/LOCK_WAIT_S re-exported
    LOCK_WAIT_S,
    ChunkWriter,
    OnLast,
    UploadInfo,
    UploadStorage,
    Writers,
)

log = logging.getLogger(__name__)

#: Seconds a PATCH may go without receiving a byte before it is treated as cut off.
IDLE_S = 30.0


class _Sink:
    """Writes and hashes a PATCH body on a helper thread while the event loop receives.

    hashlib and file writes release the GIL, so on a multi-core server the chunk is
    verified at the speed it arrives. Bytes are batched (``BATCH`` bytes) and at most two
    batches are in flight, in order. A body of one batch (a usual segment) is written by
    the shared worker pool at the end instead: no thread is started for it.
    """

    BATCH = 1 << 20

    def __init__(self, writer: ChunkWriter, *hashers: Any) -> None:
        self._writer, self._hashers = writer, [h for h in hashers if h is not None]
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._pending: list[asyncio.Future] = []

    def _job(self, block: bytes) -> None:
        self._writer.write(block)
        for hasher in self._hashers:
            hasher.update(block)

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
        if self._pool is None:  # one thread per body, so its batches stay in order
            self._pool = concurrent.futures.ThreadPoolExecutor(1, "tus-sink")
        self._pending.append(asyncio.wrap_future(self._pool.submit(self._job, block)))

    async def drain(self) -> None:
        """Everything fed so far is written and hashed."""
        if self._pool is None and self._buffer:  # all of it in one batch
            block = b"".join(self._buffer)
            self._buffer, self._buffered = [], 0
            await run_in_threadpool(self._job, block)
            return
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
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _whole_file_hasher(info: UploadInfo, checksum: tuple[Any, bytes] | None) -> Any | None:
    """A sha256 of the whole upload when this chunk is all of it and no checksum covers it.

    One-chunk uploads (the usual segment) are then never read back to be hashed; a sha256
    ``Upload-Checksum`` of such a chunk already is the file's sha256.
    """
    if info.offset != 0 or (checksum is not None and checksum[0].name == "sha256"):
        return None
    return hashlib.sha256()


async def receive(request: Request, store: UploadStorage, info: UploadInfo,
                  checksum: tuple[Any, bytes] | None, on_last: OnLast | None = None) -> int:
    """Write the PATCH body at the offset; verify the checksum before it counts.

    ``on_last`` runs in the commit of the upload's last chunk, before its offset is visible
    (see :meth:`ChunkWriter.commit`); whatever it raises is the PATCH's answer. A storage
    shared by several processes (``write_lease``) is leased for the whole PATCH.
    """
    lease = getattr(store, "write_lease", None)
    if lease is None:
        return await _receive(request, store, info, checksum, on_last)
    async with lease(info):
        return await _receive(request, store, info, checksum, on_last)


async def _receive(request: Request, store: UploadStorage, info: UploadInfo,
                   checksum: tuple[Any, bytes] | None, on_last: OnLast | None) -> int:
    room = info.length - info.offset
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > room:
        raise TusError(413, "chunk_too_large", f"the chunk exceeds the {room} bytes left")
    writer = await run_in_threadpool(store.writer, info)
    whole = _whole_file_hasher(info, checksum)
    sink = _Sink(writer, checksum[0] if checksum else None, whole)
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
            await run_in_threadpool(writer.discard)
            raise TusError(400, "client_disconnected", "the chunk was cut short") from None
        writer.write(sink.leftover())
        # Keep what arrived so the client can resume from it.
        new_offset = await run_in_threadpool(writer.commit, on_last)
        log.info("tus upload %s: connection dropped, kept offset %d", info.id, new_offset)
        raise TusError(400, "client_disconnected", "the chunk was cut short") from None
    except BaseException:
        writer.discard()
        raise
    if checksum is not None and checksum[0].digest() != checksum[1]:
        await run_in_threadpool(writer.discard)
        log.warning("tus upload %s: checksum mismatch at offset %d", info.id, info.offset)
        raise TusError(460, "checksum_mismatch", "the chunk does not match its checksum")
    if info.offset + received >= info.length and info.offset == 0:
        info.file_sha256 = (whole or checksum[0]).hexdigest()
    try:
        return await run_in_threadpool(writer.commit, on_last)
    except BaseException:
        await run_in_threadpool(writer.discard)
        raise
