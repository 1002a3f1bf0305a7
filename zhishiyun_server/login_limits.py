"""Failed-login limits kept in the database, so every server process sees the same counts.

Three buckets, each a sliding window of ``window_s`` seconds:

- per (ID number, client address): ``max_failures`` — what a candidate mistyping meets;
- per ID number from anywhere: ``max_failures × ID_CEILING_FACTOR`` — a stranger guessing
  from elsewhere cannot lock the candidate out at their own address;
- per client address: ``max_failures × ADDRESS_FACTOR`` — a backstop against one machine
  trying many ID numbers (a school's candidates may share one NAT address, so it is high).

An attempt is *reserved* before the password is checked: a row is written first, then the
buckets are counted including it, and a count over a limit withdraws the row and refuses.
Twenty wrong passwords sent at once therefore verify at most ``max_failures`` of them.
A success removes the reservation and the (ID number, address) failures; a failure keeps
the reservation as the failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from zhishiyun_server import clock
from zhishiyun_server.db import Base, UTCDateTime
from zhishiyun_server.errors import ApiProblem

ID_CEILING_FACTOR = 20
ADDRESS_FACTOR = 20


class LoginFailure(Base):
    """One failed (or reserved, still being checked) login attempt."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_id_number_at", "id_number", "at"),
                      Index("ix_login_failures_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: No foreign key: failures for ID numbers nobody has count too.
    id_number: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


@dataclass(frozen=True)
class Limits:
    """The three limits of one server."""

    max_failures: int
    window_s: float

    def buckets(self, id_number: str, address: str):
        """(where-clause, limit) per bucket."""
        return (
            ((LoginFailure.id_number == id_number, LoginFailure.address == address),
             self.max_failures),
            ((LoginFailure.id_number == id_number,), self.max_failures * ID_CEILING_FACTOR),
            ((LoginFailure.address == address,), self.max_failures * ADDRESS_FACTOR),
        )


@dataclass(frozen=True)
class Reservation:
    """A reserved attempt: pass it back to :func:`settle`."""

    row_id: int
    id_number: str
    address: str


def _refusal(db: Session, where, limits: Limits) -> ApiProblem:
    since = clock.now() - timedelta(seconds=limits.window_s)
    oldest = db.scalar(select(func.min(LoginFailure.at)).where(*where, LoginFailure.at > since))
    wait = 1
    if oldest is not None:
        wait = max(1, int((oldest + timedelta(seconds=limits.window_s)
                           - clock.now()).total_seconds() + 0.999))
    return ApiProblem(429, "too_many_attempts",
                      f"Too many failed logins. Try again in {wait} seconds.",
                      headers={"Retry-After": str(wait)}, retry_after=wait)


def _over(db: Session, limits: Limits, id_number: str, address: str, extra: int):
    since = clock.now() - timedelta(seconds=limits.window_s)
    for where, limit in limits.buckets(id_number, address):
        count = db.scalar(select(func.count()).select_from(LoginFailure)
                          .where(*where, LoginFailure.at > since)) or 0
        if count + extra > limit:
            return where
    return None


def reserve(factory: sessionmaker[Session], limits: Limits, id_number: str,
            address: str) -> Reservation:
    """Reserve one attempt, or raise 429 ``too_many_attempts`` with ``Retry-After``."""
    id_number, address = id_number[:64], address[:64]
    with factory() as db:
        full = _over(db, limits, id_number, address, extra=1)
        if full is not None:  # no write while a bucket is full
            raise _refusal(db, full, limits)
        row = LoginFailure(id_number=id_number, address=address, at=clock.now())
        db.add(row)
        db.commit()
        full = _over(db, limits, id_number, address, extra=0)
        if full is not None:  # others reserved meanwhile: withdraw (never over-admit)
            db.execute(delete(LoginFailure).where(LoginFailure.id == row.id))
            db.commit()
            raise _refusal(db, full, limits)
        if row.id % 256 == 0:
            db.execute(delete(LoginFailure).where(
                LoginFailure.at <= clock.now() - timedelta(seconds=limits.window_s)))
            db.commit()
        return Reservation(row.id, id_number, address)


def settle(factory: sessionmaker[Session], reservation: Reservation, ok: bool) -> None:
    """After the check: a success clears this ID number's failures from this address."""
    if not ok:
        return
    with factory() as db:
        db.execute(delete(LoginFailure).where(
            LoginFailure.id_number == reservation.id_number,
            LoginFailure.address == reservation.address))
        db.commit()


def release(factory: sessionmaker[Session], reservation: Reservation) -> None:
    """Withdraw the reservation only (the attempt turned out not to be a failed login)."""
    with factory() as db:
        db.execute(delete(LoginFailure).where(LoginFailure.id == reservation.row_id))
        db.commit()


def failed(factory: sessionmaker[Session], id_number: str, address: str) -> None:
    """Count one more failure that had no reservation (e.g. a refused face)."""
    with factory() as db:
        db.add(LoginFailure(id_number=id_number[:64], address=address[:64], at=clock.now()))
        db.commit()
