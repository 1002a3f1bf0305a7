"""Uploads that several server processes (and machines) share: the writer lock in the database.

:class:`SharedDiskStorage` is :class:`~zhishiyun_server.tus.storage.LocalDiskStorage` plus a
writer lease per upload, so two processes never write one upload at once, whichever process
the load balancer picks for each PATCH. The lease is carried by the upload's row in
``pending_uploads`` (:mod:`zhishiyun_server.tus.pending`), which exists from its creation
until it is recorded, expires or is terminated:

- A PATCH takes the lease before it writes (one ``UPDATE``: free, or held by a holder that
  stopped renewing it for ``LEASE_S``) and gives it back when it ends; the transaction
  that records the completed upload deletes the row, and with it the lease. While a long
  body streams, the holder renews the lease every ``LEASE_S / 3`` seconds; the request
  holds no database connection meanwhile.
- Another PATCH of the same upload waits up to ``LOCK_WAIT_S`` for the lease (423 after
  that, retryable); once it has it, it re-reads the offset, so a PATCH at an offset another
  process has moved past answers 409 with the current ``Upload-Offset``.
- A process killed mid-PATCH leaves a lease nobody renews: after ``LEASE_S`` the upload is
  writable again through any other process, from its last committed offset.
- On PostgreSQL, a PATCH that carries an upload's last byte in one batch (the usual
  segment) takes the lease in the transaction that then records the upload
  (:class:`LeaseTransaction`): one commit instead of two. Until it commits, the lease is
  the row's lock; another taker waits for it, and PostgreSQL ends the transaction if its
  holder stays silent for ``LEASE_S``.
- An upload without a row is recorded (or removed): its bytes are evidence and are never
  written again. A PATCH of it only publishes the final offset, which a crash between
  recording and saving the offset may have left unsaved.

A lease is a row, not a PostgreSQL advisory lock held on a connection: holding a pooled
connection for the whole length of a slow upload is what exhausted the pool before.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from zhishiyun_server.tus import pending
from zhishiyun_server.tus.errors import TusError
from zhishiyun_server.tus.storage import LocalDiskStorage, UploadInfo

log = logging.getLogger(__name__)

#: Seconds a lease lives without renewal (how long a killed process blocks its upload).
LEASE_S = 15.0
#: Seconds between attempts to take a busy lease.
POLL_S = 0.1


class Leases:
    """Take, renew and give back upload leases (each call is one short transaction).

    ``read``: a scalar subquery of the upload id (``:k_upload``) that the take statement
    returns too, e.g. the upload's info row (S3 storage): one statement where there were two.
    """

    def __init__(self, sessions: sessionmaker[Session] | None, read=None) -> None:
        self._sessions = sessions
        self._statements = pending.LeaseStatements(read)

    def _connect(self):
        # A Core connection: no ORM session bookkeeping around one-row statements.
        return self._sessions.kw["bind"].connect()

    def try_take(self, upload_id: str, holder: str) -> bool | None:
        """Take the lease if it is free or expired: True; False when busy; None: no row."""
        return self.try_take_reading(upload_id, holder)[0]

    def try_take_reading(self, upload_id: str, holder: str) -> tuple[bool | None, object]:
        """:meth:`try_take`, and the ``read`` value when taken (else ``pending.UNREAD``)."""
        now = time.time()
        with self._connect() as conn:
            return pending.take_lease_reading(conn, upload_id, holder, now, LEASE_S,
                                              statements=self._statements)

    def take_with_completion(self, upload_id: str, holder: str) -> LeaseTransaction | None:
        """Take the lease in a transaction the completion will commit; PostgreSQL only.

        None where that is not worth it: SQLite has one writer at a time for the whole
        database, and an open write transaction during the write and fsync of a chunk
        would stop every other request's writes. The result's ``taken`` is
        :meth:`try_take`'s answer.
        """
        if self._sessions is None or \
                self._sessions.kw["bind"].dialect.name != "postgresql":
            return None
        conn = self._connect()
        try:
            taken, read = pending.take_lease_reading(conn, upload_id, holder, time.time(),
                                                     LEASE_S, commit=False,
                                                     statements=self._statements)
        except BaseException:
            conn.close()
            raise
        txn = LeaseTransaction(self, conn, upload_id, holder, taken)
        txn.read = read
        return txn

    def renew(self, upload_id: str, holder: str) -> bool:
        """Extend the lease; False when it is no longer ours."""
        with self._connect() as conn:
            return pending.renew_lease(conn, upload_id, holder, time.time() + LEASE_S)

    def give_back(self, upload_id: str, holder: str) -> None:
        """Release the lease (no error when it was taken over or the row is gone)."""
        with self._connect() as conn:
            pending.release_lease(conn, upload_id, holder)


class LeaseTransaction:
    """An upload's lease taken and not yet committed, for the completion to commit with it.

    The upload's last chunk then costs one transaction: the lease's ``UPDATE``, the
    recorded segment and the deletion of the pending row (which ends the lease) commit
    together. Until then the lease is the row's lock: another process's take waits for it
    and then finds the row gone (recorded) or free again (rolled back).
    """

    def __init__(self, leases: Leases, conn, upload_id: str, holder: str,
                 taken: bool | None) -> None:
        self.leases, self.conn, self.upload_id, self.holder = leases, conn, upload_id, holder
        self.taken = taken
        #: What the take statement read with the lease (``pending.UNREAD``: nothing).
        self.read: object = pending.UNREAD
        #: The storage's write of the final offset, to commit with the recording (or None).
        self.publish = None

    def commit_recorded(self) -> None:
        """Commit the recording, with the storage's final offset when it gave one."""
        if self.publish is not None:
            self.publish(self.conn)
        self.conn.commit()

    @property
    def open(self) -> bool:
        """Whether the connection is still in this transaction (nothing committed it)."""
        return not self.conn.closed and self.conn.in_transaction()

    def keep_lease(self) -> None:
        """Commit the lease alone, for work that needs its own transactions after it.

        After a rollback the lease is taken again (423 if another writer got it meanwhile).
        """
        self.publish = None  # the storage publishes the offset itself, after the long way
        if self.open:
            self.conn.commit()
        elif not self.leases.try_take(self.upload_id, self.holder):
            raise TusError(423, "upload_busy",
                           "another request is writing this upload; retry")

    def close(self) -> None:
        """Roll back what nobody committed, and give the connection back to the pool."""
        self.conn.close()


class LeasedWrites:
    """Mixin for an :class:`UploadStorage` whose PATCHes each hold the upload's lease.

    The class using it sets ``self.leases`` (a :class:`Leases`) and provides ``save``;
    :func:`zhishiyun_server.tus.receive.receive` takes and gives back the lease.
    """

    leases: Leases

    def info_with_lease(self, upload_id: str, read: object) -> UploadInfo | None:
        """The upload's info as its lease was taken: ``read`` by the lease, or read now."""
        return self.get(upload_id)

    def publish_recorded(self, info: UploadInfo) -> int:
        """Save ``info`` as complete (it was recorded; only its offset was not saved)."""
        if not info.complete:
            info.offset, info.completed_at = info.length, info.completed_at or time.time()
            self.save(info)
            log.warning("tus upload %s: recorded before its offset was saved; saved now",
                        info.id)
        return info.offset


class SharedDiskStorage(LeasedWrites, LocalDiskStorage):
    """Local-disk uploads whose writer lock is a database lease (any number of processes).

    Several processes of one machine share the disk (``--workers``); several machines
    need a shared filesystem for it, or the S3 storage (:mod:`zhishiyun_server.tus.s3`).
    """

    def __init__(self, root: Path, sessions: sessionmaker[Session]) -> None:
        super().__init__(root)
        self.leases = Leases(sessions)
