"""Upload info kept in the database, beside the uploads' bytes in an object store.

Every server process already shares the database, and one row read or written costs far
less CPU than an object request through boto3 (request signing, HTTP, XML). So
:class:`~zhishiyun_server.tus.s3.S3Storage` keeps each upload's
:class:`~zhishiyun_server.tus.storage.UploadInfo` (offset, metadata, multipart state) as a
JSON row of ``tus_upload_infos`` (migration ``0013_tus_fast2``), and only bytes in the
bucket.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import String, Text, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from zhishiyun_server.db import Base
from zhishiyun_server.tus.storage import UploadInfo


class TusUploadInfo(Base):
    """One upload's info as JSON (S3 storage)."""

    __tablename__ = "tus_upload_infos"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    info: Mapped[str] = mapped_column(Text)


_ID, _INFO = bindparam("i_id", type_=String), bindparam("i_info", type_=Text)
_GET = select(TusUploadInfo.info).where(TusUploadInfo.upload_id == _ID)
_ADD = insert(TusUploadInfo).values(upload_id=_ID, info=_INFO)
_SET = update(TusUploadInfo).where(TusUploadInfo.upload_id == _ID).values(info=_INFO)
_DROP = delete(TusUploadInfo).where(TusUploadInfo.upload_id == _ID)
#: The info of the upload a lease statement takes (``:k_upload``), read in that statement.
WITH_LEASE = select(TusUploadInfo.info).where(
    TusUploadInfo.upload_id == bindparam("k_upload", type_=String)).scalar_subquery()


class InfoTable:
    """Read and write upload info rows; each call is one statement on a Core connection."""

    def __init__(self, sessions: sessionmaker[Session] | None) -> None:
        self._sessions = sessions

    def _connect(self):
        return self._sessions.kw["bind"].connect()

    def add(self, info: UploadInfo) -> None:
        """Store the info of a new upload."""
        with self._connect() as conn:
            conn.execute(_ADD, {"i_id": info.id, "i_info": _dump(info)})
            conn.commit()

    def get(self, upload_id: str) -> UploadInfo | None:
        """The upload's info, or None when it has none."""
        with self._connect() as conn:
            raw = conn.execute(_GET, {"i_id": upload_id}).scalar()
            conn.rollback()
        return load(raw)

    def save(self, info: UploadInfo) -> None:
        """Replace the upload's info (stored anew if its row is gone)."""
        with self._connect() as conn:
            self.save_on(conn, info)
            conn.commit()

    @staticmethod
    def save_on(conn, info: UploadInfo) -> None:
        """Replace the upload's info in ``conn``'s transaction (the caller commits)."""
        if not conn.execute(_SET, {"i_id": info.id, "i_info": _dump(info)}).rowcount:
            conn.execute(_ADD, {"i_id": info.id, "i_info": _dump(info)})

    def remove(self, upload_id: str) -> None:
        """Forget the upload's info (no error when it is gone)."""
        with self._connect() as conn:
            conn.execute(_DROP, {"i_id": upload_id})
            conn.commit()

    def ids(self) -> list[str]:
        """Every upload id with info."""
        with self._connect() as conn:
            found = list(conn.execute(select(TusUploadInfo.upload_id)
                                      .order_by(TusUploadInfo.upload_id)).scalars())
            conn.rollback()
        return found


def load(raw: str | None) -> UploadInfo | None:
    """An info row's JSON as :class:`UploadInfo` (None: no row)."""
    return UploadInfo(**json.loads(raw)) if raw is not None else None


def _dump(info: UploadInfo) -> str:
    return json.dumps(asdict(info))
