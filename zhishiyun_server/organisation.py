"""The organisation row: one per server, created with defaults when the database is empty.

Login, face login, the client's ``/config``, the phone's upload limit and the admin
commands all read it; it lives below every one of them so that none imports another's
routes for it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server.models import Organisation


def organisation(db: Session, *, commit: bool = True) -> Organisation:
    """The organisation row, created with defaults when there is none yet.

    Args:
        db: the request's or the admin command's session.
        commit: commit a newly created row at once (requests); ``False`` leaves it to the
            caller's transaction (an admin command commits everything or nothing).
    """
    org = db.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if org is None:
        org = Organisation(name="Zhishiyun", ntp_servers=[], checks={}, recording={})
        db.add(org)
        if commit:
            db.commit()
    return org
