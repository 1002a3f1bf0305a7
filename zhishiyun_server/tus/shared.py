"""Uploads that several server processes (and machines) share: the writer lock in the database.

:class:`SharedDiskStorage` is :class:`~zhishiyun_server.tus.storage.LocalDiskStorage` plus a
writer lease per upload in the ``tus_upload_leases`` table, so two processes never write one
upload at once, whichever process the load balancer picks for each PATCH:

- A PATCH takes the lease before it writes (a row insert; a lease whose holder stopped
  renewing it for ``LEASE_S`` is taken over) and gives it back when it ends. While the body
  streams, the holder renews the lease every ``LEASE_S / 3`` seconds; the request holds no
  database connection meanwhile.
- Another PATCH of the same upload waits up to ``LOCK_WAIT_S`` for the lease (423 after
  that, retryable); once it has it, it re-reads the offset, so a PATCH at an offset another
  process has moved past answers 409 with the current ``Upload-Offset``.
- A process killed mid-PATCH leaves a lease nobody renews: after ``LEASE_S`` the upload is
  writable again through any other process, from its last committed offset.

A lease is a row, not a PostgreSQL advisory lock held on a connection: holding a pooled
connection for the whole length of a slow upload is what exhausted the pool before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Float, String, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from zhishiyun_server.db import Base
from zhishiyun_server.tus.errors import TusError
from zhishiyun_server.tus.storage import LOCK_WAIT_S, LocalDiskStorage, UploadInfo

log = logging.getLogger(__name__)

#: Seconds a lease lives without renewal (how long a killed process blocks its upload).
LEASE_S = 15.0
#: Seconds between attempts to take a busy lease.
POLL_S = 0.1


class UploadLease(Base):
    """Who writes an upload right now, and until when (epoch seconds) unless renewed."""

    __tablename__ = "tus_upload_leases"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[float] = mapped_column(Float)


class Leases:
    """Take, renew and give back upload leases (each call is one short transaction)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def try_take(self, upload_id: str, holder: str) -> bool:
        """Take the lease if it is free or expired; True on success."""
        now = time.time()
        with self._sessions() as db:
            try:  # Core statements: no unit-of-work bookkeeping for one row
                db.execute(insert(UploadLease).values(upload_id=upload_id, holder=holder,
                                                      expires_at=now + LEASE_S))
                db.commit()
                return True
            except IntegrityError:
                db.rollback()
            taken = db.execute(update(UploadLease).where(
                UploadLease.upload_id == upload_id, UploadLease.expires_at < now)
                .values(holder=holder, expires_at=now + LEASE_S)).rowcount
            db.commit()
            if taken:
                log.warning("tus upload %s: took over a lease nobody renewed", upload_id)
            return bool(taken)

    def renew(self, upload_id: str, holder: str) -> bool:
        """Extend the lease; False when it is no longer ours."""
        with self._sessions() as db:
            kept = db.execute(update(UploadLease).where(
                UploadLease.upload_id == upload_id, UploadLease.holder == holder)
                .values(expires_at=time.time() + LEASE_S)).rowcount
            db.commit()
            return bool(kept)

    def give_back(self, upload_id: str, holder: str) -> None:
        """Release the lease (no error when it was taken over meanwhile)."""
        with self._sessions() as db:
            db.execute(delete(UploadLease).where(UploadLease.upload_id == upload_id,
                                                 UploadLease.holder == holder))
            db.commit()


class LeasedWrites:
    """Mixin for an :class:`UploadStorage`: every PATCH holds the upload's database lease.

    The class using it sets ``self.leases`` (a :class:`Leases`) and provides ``get``.
    """

    leases: Leases

    @contextlib.asynccontextmanager
    async def write_lease(self, info: UploadInfo) -> AsyncIterator[UploadInfo]:
        """Hold ``info``'s lease for one PATCH; yields the upload as it is now.

        Raises:
            TusError: 423 when another process keeps writing it for ``LOCK_WAIT_S``;
                409 when another process moved its offset while this one waited.
        """
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_WAIT_S
        while not await run_in_threadpool(self.leases.try_take, info.id, holder):
            if time.monotonic() > deadline:
                raise TusError(423, "upload_busy",
                               "another request is still writing this upload; retry")
            await asyncio.sleep(POLL_S)
        renewer = asyncio.get_running_loop().create_task(self._renew(info.id, holder))
        try:
            current = await run_in_threadpool(self.get, info.id)
            if current is None:
                raise TusError(404, "upload_not_found", "no such upload")
            if current.offset != info.offset:
                raise TusError(409, "offset_mismatch",
                               f"Upload-Offset {info.offset} does not match {current.offset}",
                               {"Upload-Offset": str(current.offset)})
            yield current
        finally:
            renewer.cancel()
            with contextlib.suppress(BaseException):
                await renewer
            await run_in_threadpool(self.leases.give_back, info.id, holder)

    async def _renew(self, upload_id: str, holder: str) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            if not await run_in_threadpool(self.leases.renew, upload_id, holder):
                log.error("tus upload %s: lost its writer lease", upload_id)
                return


class SharedDiskStorage(LeasedWrites, LocalDiskStorage):
    """Local-disk uploads whose writer lock is a database lease (any number of processes).

    Several processes of one machine share the disk (``--workers``); several machines
    need a shared filesystem for it, or the S3 storage (:mod:`zhishiyun_server.tus.s3`).
    """

    def __init__(self, root: Path, sessions: sessionmaker[Session]) -> None:
        super().__init__(root)
        self.leases = Leases(sessions)

