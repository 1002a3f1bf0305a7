"""The tus 1.0.0 protocol as a FastAPI router: core, creation, checksum, termination, expiration.

Spec: https://tus.io/protocols/resumable-upload. What this endpoint promises:

- ``OPTIONS`` advertises version, extensions and checksum algorithms (sha1, sha256); the
  size limit depends on the caller (413 on creation says it), so no ``Tus-Max-Size``.
- ``POST`` (creation) needs ``Upload-Length`` (no deferred length); ``Upload-Metadata`` is
  parsed strictly and handed to the hooks (keys the hooks name as carried are handed over
  as sent and not stored with the upload); the id is chosen here, never taken from metadata.
- ``PATCH`` writes at ``Upload-Offset`` only (409 otherwise); with ``Upload-Checksum`` the
  chunk is verified before it counts (460 and nothing kept on mismatch, 400 for an unknown
  algorithm); without a checksum, the bytes received before a dropped connection are kept
  so that the client can resume from there.
- ``DELETE`` (termination) removes an unfinished upload; later requests get 404. A
  complete upload is evidence: its termination answers 403 ``upload_complete`` and the
  bytes stay (the hooks may refuse more).
- Expiration: unfinished uploads expire ``expiration_s`` after their creation, at most
  :data:`MAX_EXPIRATION_S` (410 Gone, then removed); writing does not extend the life, so
  trickling bytes cannot keep an upload forever. ``Upload-Expires`` says when.
- Numbers in headers are ASCII digits that fit 64 bits; ``Upload-Metadata`` is at most
  :data:`MAX_METADATA_BYTES` long and its values contain no control characters.
- Another owner's upload answers 404, exactly like one that does not exist.
- One writer per upload: a PATCH, HEAD or DELETE waits while another request still writes
  the same upload (a client resuming before the server noticed its cut-off request), up to
  ``LOCK_WAIT_S`` (then 423, retryable); a PATCH silent for ``IDLE_S`` counts as cut off.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from zhishiyun_server.tus.errors import TusError
from zhishiyun_server.tus.receive import Writers, receive
from zhishiyun_server.tus.storage import UploadInfo, UploadStorage
from zhishiyun_server.validation import parse_ascii_int

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
OFFSET_TYPE = "application/offset+octet-stream"
_META_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Longest ``Upload-Metadata`` header and most pairs in it.
MAX_METADATA_BYTES = 8192
MAX_METADATA_PAIRS = 16
#: Longest life of an unfinished upload, whatever the limits say.
MAX_EXPIRATION_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class TusLimits:
    """Limits of the endpoint (the server may read them from its config on each request)."""

    max_size: int = 2 * 1024**3
    expiration_s: float = 24 * 3600.0


class TusHooks:
    """What the application decides; the defaults accept everyone as owner ``""``."""

    #: Metadata keys that travel with the creation but are not part of the upload: their
    #: values are handed to :meth:`after_create` as sent (base64, unchecked: a bad one must
    #: not refuse the upload) and are not stored with it.
    carried_metadata: frozenset[str] = frozenset()

    def owner_key(self, principal: Any) -> str:
        """The owner an upload is recorded under for ``principal``."""
        return ""

    def limits(self, principal: Any) -> TusLimits:
        """Limits that apply to ``principal`` now."""
        return TusLimits()

    def before_create(self, principal: Any, length: int, metadata: dict[str, str]) -> None:
        """Raise :class:`TusError` to refuse a new upload."""

    def after_create(self, principal: Any, info: UploadInfo,
                     carried: dict[str, str] | None = None) -> dict[str, str] | None:
        """Called once an unfinished upload exists (e.g. to count it against a budget).

        ``carried``: the :attr:`carried_metadata` values sent (base64 text). Returns extra
        headers for the 201 reply, or None.
        """
        return None

    def on_complete(self, principal: Any, info: UploadInfo, storage: UploadStorage,
                    lease: Any = None) -> None:
        """Called (in a worker thread) once the last byte of ``info`` is stored.

        Raising :class:`TusError` here turns the last PATCH's reply into that error; the
        hook decides whether the bytes stay. ``lease``: a
        :class:`~zhishiyun_server.tus.shared.LeaseTransaction` whose connection holds the
        upload's lease uncommitted, for the hook to commit with the recording (or None).
        """

    def may_terminate(self, principal: Any, info: UploadInfo) -> None:
        """Raise :class:`TusError` to refuse the termination of an unfinished upload."""

    def forgotten(self, principal: Any, upload_ids: list[str]) -> None:
        """These uploads were removed (terminated or expired)."""

    def expired_uploads(self, principal: Any) -> list[str] | None:
        """Ids of expired unfinished uploads, or None to look through the storage."""
        return None


def parse_metadata(header: str | None, raw: frozenset[str] = frozenset()) -> dict[str, str]:
    """``Upload-Metadata`` → dict; raises :class:`TusError` 400 when malformed.

    Values of the keys in ``raw`` are kept as sent (base64 text, not decoded or checked)
    and do not count towards :data:`MAX_METADATA_BYTES`: the hook that takes them judges
    their length, so a long one does not refuse the upload.
    """
    result: dict[str, str] = {}
    if not header:
        return result
    if header.count(",") >= MAX_METADATA_PAIRS:
        raise TusError(400, "bad_metadata", "Upload-Metadata is too long")
    counted = 0
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not _META_KEY.match(key) or len(parts) > 2 or key in result:
            raise TusError(400, "bad_metadata", "Upload-Metadata is malformed")
        if key in raw:
            result[key] = parts[1] if len(parts) == 2 else ""
            continue
        counted += len(pair) + 1
        if counted > MAX_METADATA_BYTES + 1:
            raise TusError(400, "bad_metadata", "Upload-Metadata is too long")
        try:
            value = base64.b64decode(parts[1], validate=True).decode("utf-8") \
                if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(400, "bad_metadata", f"Upload-Metadata {key} is not base64 UTF-8") \
                from None
        if _CONTROL.search(value):
            raise TusError(400, "bad_metadata", f"Upload-Metadata {key} has control characters")
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
    value = parse_ascii_int(request.headers.get(name, "").strip())
    if value is None:
        raise TusError(400, "bad_header", f"{name} must be a non-negative integer")
    return value


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


class RecentInfos:
    """Info of the uploads this process created or wrote last, as a PATCH's first read.

    Only for a storage whose PATCH re-reads the upload under its writer lease
    (:mod:`zhishiyun_server.tus.shared`): that read decides (404, 409 with the current
    offset), so an entry that another process made stale costs nothing but that answer
    coming after the body. An entry whose offset is not the PATCH's ``Upload-Offset`` is not
    used (the upload moved on elsewhere): the PATCH reads it. The owner, the length and the
    expiry never change, and this process drops an upload it completes, removes or fails
    to write: a PATCH takes its upload's entry out and puts it back only when it succeeded
    with bytes still to come. Bounded: the oldest entries go first.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._infos: dict[str, UploadInfo] = {}
        self._limit = limit
        self._lock = threading.Lock()  # creations run on worker threads

    def put(self, info: UploadInfo) -> None:
        """Remember ``info`` (a copy) as this upload's current state."""
        with self._lock:
            self._infos.pop(info.id, None)
            self._infos[info.id] = dataclasses.replace(info)
            if len(self._infos) > self._limit:
                del self._infos[next(iter(self._infos))]

    def take(self, upload_id: str) -> UploadInfo | None:
        """The upload's remembered info, forgotten until :meth:`put` again; None if unknown."""
        with self._lock:
            return self._infos.pop(upload_id, None)

    def __len__(self) -> int:
        return len(self._infos)


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

    writers = Writers()
    #: A PATCH's first read, for storages that re-read under a lease (see RecentInfos).
    recent = RecentInfos()

    def rereads_under_lease(store: UploadStorage) -> bool:
        return getattr(store, "leases", None) is not None

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
            hooks.forgotten(who, [info.id])
            raise TusError(410, "upload_expired", "this upload expired; start it again")
        return store, info

    async def aload(request: Request, upload_id: str,
                    who: Any) -> tuple[UploadStorage, UploadInfo]:
        """:func:`load`, on a worker thread when the storage reads over the network (S3)."""
        if getattr(get_storage(request), "remote", False):
            return await run_in_threadpool(load, request, upload_id, who)
        return load(request, upload_id, who)

    last_sweep = [0.0]

    def sweep(store: UploadStorage, who: Any) -> None:
        """Remove expired unfinished uploads (at most once a minute, on creation)."""
        now = time.time()
        if now - last_sweep[0] < 60:
            return
        last_sweep[0] = now
        known = hooks.expired_uploads(who)
        gone = []
        for upload_id in store.ids() if known is None else known:
            info = store.get(upload_id)
            if info and not info.complete and info.expires_at and info.expires_at < now:
                store.delete(upload_id)
                gone.append(upload_id)
            elif info is None:
                gone.append(upload_id)
        hooks.forgotten(who, gone)

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
            metadata = parse_metadata(request.headers.get("Upload-Metadata"),
                                      hooks.carried_metadata)
            carried = {key: metadata.pop(key) for key in hooks.carried_metadata
                       if key in metadata}
            hooks.before_create(who, length, metadata)
            store = get_storage(request)
            sweep(store, who)
            lifetime = min(limits.expiration_s, MAX_EXPIRATION_S)
            info = store.create(length, metadata, hooks.owner_key(who), time.time() + lifetime)
            extra: dict[str, str] | None = None
            if length:
                try:
                    extra = hooks.after_create(who, info, carried)
                except TusError:
                    store.delete(info.id)
                    raise
                if rereads_under_lease(store):
                    recent.put(info)
            else:
                info.completed_at = time.time()
                store.save(info)
                hooks.on_complete(who, info, store)
        except TusError as exc:
            return _error(exc)
        log.info("tus upload %s created: %d bytes", info.id, length)
        return Response(status_code=201, headers={
            **base_headers(info), **(extra or {}), "Location": f"{router.prefix}/{info.id}"})

    @router.head("/{upload_id}")
    async def head(upload_id: str, request: Request, who: Any = auth) -> Response:
        try:
            _check_version(request)
            _store, info = await aload(request, upload_id, who)
            async with writers.hold(upload_id) as waited:  # after any write in progress
                if waited:
                    _store, info = await aload(request, upload_id, who)
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
            store, info = get_storage(request), recent.take(upload_id)
            if info is None or info.owner != hooks.owner_key(who) or info.offset != offset \
                    or (info.expires_at and info.expires_at < time.time()):
                # Unknown here, or moved elsewhere: read it (404/410/409 before waiting).
                store, info = await aload(request, upload_id, who)
            async with writers.hold(upload_id) as waited:
                if waited:  # another request of this process wrote meanwhile
                    store, info = await aload(request, upload_id, who)
                if offset != info.offset:
                    raise TusError(409, "offset_mismatch",
                                   f"Upload-Offset {offset} does not match {info.offset}",
                                   {"Upload-Offset": str(info.offset)})
                # The completion runs inside the last chunk's commit, before the final
                # offset is visible: if it fails, HEAD still says "not done" and the
                # client's resume completes it again (nothing recorded is ever skipped).
                new_offset = await receive(
                    request, store, info, checksum,
                    on_last=lambda done, lease: hooks.on_complete(who, done, store, lease))
            if new_offset < info.length and rereads_under_lease(store):
                recent.put(dataclasses.replace(info, offset=new_offset))
        except TusError as exc:
            return _error(exc)
        return Response(status_code=204, headers={**base_headers(info),
                                                  "Upload-Offset": str(new_offset)})

    @router.delete("/{upload_id}")
    async def delete(upload_id: str, request: Request, who: Any = auth) -> Response:
        try:
            _check_version(request)
            await aload(request, upload_id, who)
            recent.take(upload_id)
            async with writers.hold(upload_id):
                store, info = await aload(request, upload_id, who)
                if info.complete:
                    raise TusError(403, "upload_complete",
                                   "a complete upload is kept; it cannot be terminated")
                await run_in_threadpool(hooks.may_terminate, who, info)
                store.delete(info.id)
                await run_in_threadpool(hooks.forgotten, who, [info.id])
        except TusError as exc:
            return _error(exc)
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})

    return router
