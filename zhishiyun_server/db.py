"""Database plumbing: the declarative ``Base``, engines and sessions (SQLite WAL or PostgreSQL).

Other modules declare tables on :class:`Base` (import it from here) and add an Alembic
revision under ``zhishiyun_server/migrations/versions/`` for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every server table."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """A datetime stored as naive UTC and always returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # noqa: D102
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # noqa: D102
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: Connections each process keeps open: as many as the worker thread pool has threads (40),
#: every one kept once opened. Every request that touches the database runs on that pool and
#: holds a connection only for its short queries, so one per thread never runs dry. No
#: overflow: SQLAlchemy closes an overflow connection as soon as it is returned, so a pool of
#: 10 + 30 under load opened and closed a PostgreSQL connection (a backend process forked,
#: authenticated, torn down) for most checkouts; at 80 simulated candidates that cost the
#: machine 0.2-0.5 of a core and the server 12 % more CPU per MiB (docs/scaling.md).
#: N processes on one PostgreSQL need N x 40 of its ``max_connections``.
#: The server's own values come from ``ServerConfig.db_pool_*`` (ZHISHIYUN_SERVER_DB_POOL_*).
POOL_SIZE = 40
POOL_OVERFLOW = 0
#: Seconds a request waits for a free connection before it is answered 503 (not 30 s, 500).
POOL_TIMEOUT_S = 5.0


def make_engine(url: str, pool_size: int = POOL_SIZE, max_overflow: int = POOL_OVERFLOW,
                pool_timeout_s: float = POOL_TIMEOUT_S) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys.

    The pool is sized for the worker thread pool (see ``POOL_SIZE``); a request that cannot
    get a connection within ``POOL_TIMEOUT_S`` raises ``sqlalchemy.exc.TimeoutError``, which
    the app answers with 503 and ``Retry-After`` (:func:`is_overload`).
    """
    url = normalise_url(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow,
            "pool_timeout": pool_timeout_s}
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                               hide_parameters=True, **({} if in_memory else pool))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # hide_parameters: a logged database error names the statement, never the values bound
    # to it (password hashes, tokens, answers). No pre-ping: it is one more round trip at
    # every checkout (several per request). A connection that died with a PostgreSQL restart
    # fails its first statement instead; SQLAlchemy then drops the pool's stale connections
    # and that request is answered 503 + Retry-After (is_overload), so the retry works.
    return create_engine(url, hide_parameters=True, **pool)


def is_overload(exc: BaseException) -> bool:
    """True for database errors that mean "too busy right now", not "broken".

    A pool timeout, SQLite's ``database is locked`` after its busy timeout, and
    PostgreSQL's ``too many connections`` / serialization and lock-timeout failures: the
    request may simply be retried, so they are answered 503 with ``Retry-After``.
    """
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        text = str(getattr(exc, "orig", exc)).lower()
        return any(sign in text for sign in (
            "database is locked", "too many connections", "could not serialize",
            "lock timeout", "canceling statement due to lock timeout", "deadlock detected",
            "server closed the connection", "terminating connection", "connection refused",
            "the database system is starting up", "the database system is shutting down"))
    return False


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (replies are built after commits)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error (admin commands, seeding)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


#: The PostgreSQL advisory lock key held while migrations run ("zsymigr" in ASCII).
MIGRATION_LOCK_KEY = 0x7A73796D696772


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates a database at a time (several start together on deploy).

    PostgreSQL: a session-level advisory lock on its own connection, held while Alembic
    works on another; the second process waits, then finds the schema current. SQLite: an
    exclusive ``flock`` on ``<database>.migrate.lock`` (where the platform has it).
    """
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                             {"key": MIGRATION_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # Windows: one process per SQLite database anyway
        fcntl = None
    if not database or database == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{database}.migrate.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
