"""Receiving a PATCH body: written and hashed off the event loop, committed with its completion.

One writer per upload: the protocol's in-process :class:`Writers` (re-exported here with
``LOCK_WAIT_S``), and for a storage shared by several processes the upload's database lease
(:mod:`zhishiyun_server.tus.shared`), taken before the first byte is written.

A body of one batch (a usual segment) costs one worker-thread round trip: once it has
arrived, one call takes the lease, re-reads the offset, writes and hashes the bytes,
verifies the checksum and commits them with the completion. A longer body takes the lease
at its first batch and is written by a helper thread while the rest arrives.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from zhishiyun_server.tus.errors import TusError
from zhishiyun_server.tus.pending import UNREAD
from zhishiyun_server.tus.shared import LEASE_S, POLL_S
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
#: Bytes gathered before they are handed to the writer.
BATCH = 1 << 20
_BUSY = object()


def _whole_file_hasher(info: UploadInfo, checksum: tuple[Any, bytes] | None) -> Any | None:
    """A sha256 of the whole upload when this chunk is all of it and no checksum covers it.

    One-chunk uploads (the usual segment) are then never read back to be hashed; a sha256
    ``Upload-Checksum`` of such a chunk already is the file's sha256.
    """
    if info.offset != 0 or (checksum is not None and checksum[0].name == "sha256"):
        return None
    return hashlib.sha256()


class _Patch:
    """One PATCH's writes: the lease, the writer, the hashes, in order, off the event loop.

    hashlib and file writes release the GIL, so a long body is verified at the speed it
    arrives; at most two batches are in flight on its helper thread.
    """

    def __init__(self, store: UploadStorage, info: UploadInfo,
                 checksum: tuple[Any, bytes] | None, on_last: OnLast | None) -> None:
        self.store, self.info, self.checksum, self.on_last = store, info, checksum, on_last
        self.leases = getattr(store, "leases", None)
        self.holder = uuid.uuid4().hex
        self.holding = False
        self.whole = _whole_file_hasher(info, checksum)
        self.hashers = [h for h in (checksum[0] if checksum else None, self.whole) if h]
        self.writer: ChunkWriter | None = None
        #: The lease taken in the transaction the completion commits (PostgreSQL).
        self.txn: Any = None
        self.frozen: int | None = None  # the final offset, when the upload is recorded
        self.received = 0
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._in_flight: list[asyncio.Future] = []
        self._renewer: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None

    # --- on a worker thread --------------------------------------------------------------
    def _open(self, final: bool = False) -> object | None:
        """Take the lease and open the writer; ``_BUSY`` when another request holds it.

        ``final``: this one call writes the upload's last byte (as the offset read before
        says); its lease is then taken in the transaction that records the upload.
        """
        if self.leases is None:
            self.writer = self.store.writer(self.info)
            return None
        txn = self.leases.take_with_completion(self.info.id, self.holder) if final else None
        read = UNREAD
        if txn is None:
            taken, read = self.leases.try_take_reading(self.info.id, self.holder)
        elif (taken := txn.taken):
            self.txn, read = txn, txn.read
        else:
            txn.close()
        if taken is False:
            return _BUSY
        self.holding = bool(taken)
        # The authoritative read, under the lease: what the PATCH read before may be stale.
        current = self.store.info_with_lease(self.info.id, read)
        if current is None:
            self._release()
            raise TusError(404, "upload_not_found", "no such upload")
        if current.offset != self.info.offset:
            self._release()
            raise TusError(409, "offset_mismatch",
                           f"Upload-Offset {self.info.offset} does not match {current.offset}",
                           {"Upload-Offset": str(current.offset)})
        if taken is None:  # recorded: its bytes are never written again
            self.frozen = self.store.publish_recorded(current)
            return None
        self.info = current
        self.writer = self.store.writer(current)
        return None

    def _write(self, block: bytes) -> None:
        if self.frozen is not None:
            return
        self.writer.write(block)
        for hasher in self.hashers:
            hasher.update(block)

    def _finish(self, block: bytes, verify: bool) -> int | object:
        """Open (unless open), write ``block``, verify and commit; the new offset."""
        if self.writer is None and self.frozen is None and \
                self._open(self.info.offset + len(block) >= self.info.length) is _BUSY:
            return _BUSY
        if self.frozen is not None:
            return self.frozen
        try:
            self._write(block)
            if verify and self.checksum is not None and \
                    self.checksum[0].digest() != self.checksum[1]:
                log.warning("tus upload %s: checksum mismatch at offset %d", self.info.id,
                            self.info.offset)
                raise TusError(460, "checksum_mismatch", "the chunk does not match its checksum")
            if self.info.offset == 0 and self.received >= self.info.length:
                self.info.file_sha256 = (self.whole or self.checksum[0]).hexdigest()
            end = self.writer.commit(self._completion if self.on_last else None)
        except BaseException:
            self.writer.discard()
            self._release()
            raise
        if end < self.info.length:
            self._release()
        else:
            self.holding = False  # the completion removed the row, and the lease with it
            if self.txn is not None:
                self.txn.close()
                self.txn = None
        return end

    def _completion(self, done: UploadInfo, publish: Any) -> None:
        if self.txn is not None:  # the open lease transaction records it, and publishes
            self.txn.publish = publish
        self.on_last(done, self.txn)

    def _abandon(self) -> None:
        try:
            if self.writer is not None:
                self.writer.discard()
        finally:
            self._release()

    def _release(self) -> None:
        if self.txn is not None:  # an uncommitted lease ends with its rollback
            txn, self.txn = self.txn, None
            if txn.open:
                self.holding = False
            txn.close()
        if self.holding:
            self.holding = False
            self.leases.give_back(self.info.id, self.holder)

    # --- on the event loop ---------------------------------------------------------------
    async def _retrying(self, call, *args):
        deadline = time.monotonic() + LOCK_WAIT_S
        while (result := await run_in_threadpool(call, *args)) is _BUSY:
            if time.monotonic() > deadline:
                raise TusError(423, "upload_busy",
                               "another request is still writing this upload; retry")
            await asyncio.sleep(POLL_S)
        return result

    def start_renewing(self) -> None:
        """Renew the lease while this PATCH lasts (it may be taken on a worker thread).

        A timer, not a task, until the first renewal: most PATCHes end long before it.
        """
        if self.leases is not None:
            self._timer = asyncio.get_running_loop().call_later(LEASE_S / 3, self._renewing)

    def _renewing(self) -> None:
        self._renewer = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        while True:
            if self.holding and not await run_in_threadpool(
                    self.leases.renew, self.info.id, self.holder):
                log.error("tus upload %s: lost its writer lease", self.info.id)
                return
            await asyncio.sleep(LEASE_S / 3)

    async def write(self, block: bytes) -> None:
        """Write a batch of a long body (the lease is taken at the first one)."""
        if self.writer is None and self.frozen is None:
            await self._retrying(self._open)
        if len(self._in_flight) >= 2:
            await self._in_flight.pop(0)
        if self._pool is None:  # one thread per body, so its batches stay in order
            self._pool = concurrent.futures.ThreadPoolExecutor(1, "tus-sink")
        self._in_flight.append(asyncio.wrap_future(self._pool.submit(self._write, block)))

    async def drain(self) -> None:
        """Every batch handed to the helper thread is written."""
        while self._in_flight:
            await self._in_flight.pop(0)

    async def finish(self, block: bytes, verify: bool = True) -> int:
        """Write the rest, verify, commit (with the completion); the new offset."""
        await self.drain()
        return await self._retrying(self._finish, block, verify)

    async def abandon(self) -> None:
        """Forget what this PATCH wrote and give the lease back."""
        with contextlib.suppress(Exception):
            await self.drain()
        await run_in_threadpool(self._abandon)

    async def close(self) -> None:
        """End the helper thread and the renewal (also after an error)."""
        for future in self._in_flight:
            with contextlib.suppress(Exception):
                await future
        self._in_flight = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._timer is not None:
            self._timer.cancel()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(BaseException):
                await self._renewer


async def receive(request: Request, store: UploadStorage, info: UploadInfo,
                  checksum: tuple[Any, bytes] | None, on_last: OnLast | None = None) -> int:
    """Write the PATCH body at the offset; verify the checksum before it counts.

    ``on_last`` runs in the commit of the upload's last chunk, before its offset is visible
    (see :meth:`ChunkWriter.commit`); whatever it raises is the PATCH's answer. A storage
    shared by several processes (``leases``) is leased from the first write to the end.
    """
    room = info.length - info.offset
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > room:
        raise TusError(413, "chunk_too_large", f"the chunk exceeds the {room} bytes left")
    patch = _Patch(store, info, checksum, on_last)
    patch.start_renewing()
    buffer: list[bytes] = []
    buffered = 0
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
            try:
                async for piece in request.stream():
                    watchdog.cancel()
                    watchdog = loop.call_later(IDLE_S, _idle_timeout)
                    patch.received += len(piece)
                    if patch.received > room:
                        raise TusError(413, "chunk_too_large",
                                       f"the chunk exceeds the {room} bytes left")
                    buffer.append(piece)
                    buffered += len(piece)
                    if buffered >= BATCH:
                        block, buffer, buffered = b"".join(buffer), [], 0
                        await patch.write(block)
            except asyncio.CancelledError:
                if not idle["timed_out"]:
                    raise
                raise ClientDisconnect() from None
            finally:
                watchdog.cancel()
            return await patch.finish(b"".join(buffer))
        except ClientDisconnect:
            if checksum is not None:  # an unverifiable chunk never counts
                await patch.abandon()
                raise TusError(400, "client_disconnected", "the chunk was cut short") from None
            # Keep what arrived so the client can resume from it.
            new_offset = await patch.finish(b"".join(buffer), verify=False)
            log.info("tus upload %s: connection dropped, kept offset %d", info.id, new_offset)
            raise TusError(400, "client_disconnected", "the chunk was cut short") from None
        except BaseException:  # nothing of a refused or failed chunk counts
            await asyncio.shield(patch.abandon())
            raise
    finally:
        await patch.close()
