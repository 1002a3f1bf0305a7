"""One segment over tus with tuspy, driven chunk by chunk by the upload worker.

tuspy's :class:`~tusclient.uploader.Uploader` keeps the protocol state (URL, offset,
metadata, per-chunk ``Upload-Checksum``); this module adds what the worker needs around it:
every request over the client's one :class:`~zhishiyun.api.transport.Transport` (the
organisation's CA, the proxy, a total deadline per request: a PATCH may take as long as its
chunk needs at the slowest supported rate), sha256 checksums, resume URLs in the queue
database (:class:`SqliteUrlStorage`), and errors sorted into "retry later", "never",
"start again" and "the certificate is not trusted".
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.fingerprint.interface import Fingerprint
from tusclient.request import TusRequest
from tusclient.storage.interface import Storage
from tusclient.uploader import Uploader

from zhishiyun.api.transport import Transport, is_untrusted_certificate
from zhishiyun.errors import ZhishiyunError
from zhishiyun.upload.policy import ChunkSizer
from zhishiyun.upload.queue import QueueItem, UploadQueue
from zhishiyun_formats.manifest import file_sha256

log = logging.getLogger(__name__)

#: Statuses that are worth retrying later (the rest of 4xx will never succeed as sent).
RETRYABLE = {408, 423, 425, 429}


class Cancelled(Exception):
    """The worker was asked to stop between two chunks."""


class PostFirst(Exception):
    """The creation did not record what it carried: post that first, then resume."""


#: Metadata key of a manifest line carried by a segment's creation, and the reply header
#: that says whether the server recorded it (``recorded`` / ``not-recorded; reason=…``).
MANIFEST_KEY = "manifest"
MANIFEST_HEADER = "Zhishiyun-Manifest"
#: The same for the session's queued events (the body of ``POST /events``).
EVENTS_KEY = "events"
EVENTS_HEADER = "Zhishiyun-Events"
#: The longest line carried (the server's limit for a line): the header stays under 8 KiB.
MAX_CARRIED_LINE = 4096
#: The longest ``Upload-Metadata`` a creation sends: what a tus server takes (ours before
#: carried keys, and then for any key it does not know) and a proxy's usual header limit.
MAX_METADATA_BYTES = 8192


#: Why items wait when the server's certificate is not trusted (queue reason and pause).
CERTIFICATE_UNTRUSTED = "certificate_untrusted"


class UploadError(ZhishiyunError):
    """An upload attempt failed; ``permanent`` says whether retrying can help.

    ``untrusted`` is set when the server's TLS certificate is not trusted: retrying cannot
    help until the organisation's CA is configured, yet nothing is given up either.
    """

    code = "upload_failed"

    def __init__(self, message: str, *, permanent: bool, status: int | None = None,
                 untrusted: bool = False) -> None:
        super().__init__(message)
        self.permanent, self.status, self.untrusted = permanent, status, untrusted


class UploadExpired(UploadError):
    """The server no longer knows the upload (expired or removed): start it again."""

    def __init__(self, message: str = "the server no longer has this upload") -> None:
        super().__init__(message, permanent=False)


def classify(status: int | None, detail: str,
             cause: BaseException | None = None) -> UploadError:
    """Turn an HTTP status (None: no answer) into a transient or permanent error."""
    if cause is not None and is_untrusted_certificate(cause):
        return UploadError(f"{CERTIFICATE_UNTRUSTED}: {detail}", permanent=False,
                           untrusted=True)
    if status is None:
        return UploadError(f"server unreachable: {detail}", permanent=False)
    if status >= 500 or status in RETRYABLE:
        return UploadError(f"server answered {status}: {detail}", permanent=False, status=status)
    return UploadError(f"server refused ({status}): {detail}", permanent=True, status=status)


def _detail(exc: TusCommunicationError) -> str:
    content = exc.response_content
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return (content or str(exc) or "no reply")[:300]


class SqliteUrlStorage(Storage):
    """tuspy URL storage in the queue database (same file, same durability)."""

    def __init__(self, queue: UploadQueue) -> None:
        self._queue = queue

    def get_item(self, key: str) -> str | None:  # noqa: D102 - tuspy API
        return self._queue.get_url(key)

    def set_item(self, key: str, value: str | None) -> None:  # noqa: D102
        if value:  # tuspy also "stores" None when nothing was stored
            self._queue.set_url(key, value)

    def remove_item(self, key: str) -> None:  # noqa: D102
        self._queue.remove_url(key)


class ItemFingerprint(Fingerprint):
    """Resume key = the queue item, not the file content (two equal files stay two uploads)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get_fingerprint(self, fs: Any) -> str:  # noqa: D102 - tuspy API
        return self.key


class _Request(TusRequest):
    """tuspy's PATCH request over the transport, within a deadline sized to the chunk."""

    def __init__(self, uploader: SegmentUploader) -> None:
        super().__init__(uploader)
        self._uploader = uploader
        self._http = uploader.http

    def perform(self) -> None:  # noqa: D102
        uploader = self._uploader
        offset = uploader.offset
        chunk, checksum = uploader.prepared_chunk(offset, self._content_length)
        self._request_headers["upload-checksum"] = checksum
        self.sent = len(chunk)
        following = offset + len(chunk)
        if following < uploader.stop_at:  # hash the likely next chunk while this one travels
            uploader.prepare_ahead(following, min(uploader.chunk_size,
                                                  uploader.stop_at - following))
        try:
            resp = self._http.patch(self._url, data=chunk, headers=self._request_headers,
                                    cert=self.client_cert,
                                    deadline=uploader.transport.deadline_for(len(chunk)))
        except requests.RequestException as error:
            raise TusUploadFailed(error) from error
        self.status_code = resp.status_code
        self.response_content = resp.content
        self.response_headers = {k.lower(): v for k, v in resp.headers.items()}


class SegmentUploader(Uploader):
    """tuspy's uploader with sha256 chunk checksums, over the client's transport."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

    def __init__(self, *args: Any, transport: Transport, path: str, **kwargs: Any) -> None:
        self.transport, self.http, self.path = transport, transport.session, path
        #: The creation reply's headers (None: no creation).
        self.creation_headers: Mapping[str, str] | None = None
        self._ahead = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="upload-hash")
        self._next: tuple[int, int, concurrent.futures.Future] | None = None
        super().__init__(*args, **kwargs)

    def _read_and_hash(self, offset: int, length: int) -> tuple[bytes, str]:
        with open(self.path, "rb") as f:  # its own handle: the worker's stays where it is
            f.seek(offset)
            chunk = f.read(length)
        digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
        return chunk, f"sha256 {digest}"

    def prepared_chunk(self, offset: int, length: int) -> tuple[bytes, str]:
        """The chunk at ``offset`` and its ``Upload-Checksum`` (hashed ahead when guessed)."""
        ahead, self._next = self._next, None
        if ahead is not None and ahead[:2] == (offset, length):
            return ahead[2].result()
        return self._read_and_hash(offset, length)

    def prepare_ahead(self, offset: int, length: int) -> None:
        """Read and hash the chunk likely to follow, on a helper thread.

        hashlib runs without the GIL, so the next chunk is ready when this one is confirmed.
        """
        self._next = (offset, length, self._ahead.submit(self._read_and_hash, offset, length))

    def close(self) -> None:
        """End the helper thread."""
        self._next = None
        self._ahead.shutdown(wait=True, cancel_futures=True)

    def _get_fingerprint(self) -> str:
        # tuspy closes the stream it fingerprints; ours stays open for the chunks.
        return self.fingerprinter.get_fingerprint(None)

    def get_offset(self) -> int:  # noqa: D102 - tuspy API, within the transport's deadline
        try:
            resp = self.http.head(self.url, headers=self.get_headers())
        except requests.RequestException as error:
            raise TusCommunicationError(error) from error
        offset = resp.headers.get("upload-offset")
        if offset is None:
            raise TusCommunicationError(f"HEAD answered {resp.status_code}",
                                        resp.status_code, resp.content)
        return int(offset)

    def create_url(self) -> str:  # noqa: D102 - tuspy API, within the transport's deadline
        try:
            resp = self.http.post(self.client.url, headers=self.get_url_creation_headers())
        except requests.RequestException as error:
            raise TusCommunicationError(error) from error
        location = resp.headers.get("location")
        if resp.status_code != 201 or location is None:
            raise TusCommunicationError(f"creation answered {resp.status_code}",
                                        resp.status_code, resp.content)
        self.creation_headers = resp.headers
        return requests.compat.urljoin(self.client.url, location)

    def _do_request(self) -> None:
        self.request = _Request(self)
        self.request.perform()
        if not 200 <= self.request.status_code < 300:
            raise TusUploadFailed("", self.request.status_code, self.request.response_content)


def segment_metadata(item: QueueItem, sha256: str | None = None) -> dict[str, str]:
    """The tus metadata of a segment's creation (before anything carried is added)."""
    return {"session_id": item.session_id, "track": item.track or "", "seq": str(item.seq),
            "sha256": sha256 or item.sha256 or "0" * 64,
            "filename": os.path.basename(item.path or "")}


def metadata_bytes(metadata: Mapping[str, str]) -> int:
    """Length of the ``Upload-Metadata`` header tuspy sends for ``metadata``."""
    return sum(len(key) + 2 + 4 * -(-len(value.encode("utf-8")) // 3)
               for key, value in metadata.items()) - (1 if metadata else 0)


def send_segment(item: QueueItem, queue: UploadQueue, *, headers: dict[str, str],
                 transport: Transport, sizer: ChunkSizer,
                 cancel: threading.Event, before_chunk: Callable[[int], bool],
                 after_chunk: Callable[[int, int], None],
                 carry: tuple[dict[str, str], Callable[[Mapping[str, str]], bool]] | None
                 = None) -> None:
    """Upload ``item`` from the server's offset to the end, one chunk per loop.

    Args:
        item: the segment row.
        queue: the queue (progress, counters, resume URLs).
        headers: extra headers (the bearer token).
        transport: the client's transport (trust, proxy, deadlines).
        sizer: chooses each chunk's size (``before_chunk`` may cap it).
        cancel: set to stop between chunks.
        before_chunk: called with the chunk length before it is sent (the rate cap);
            returning False cancels.
        after_chunk: called with (confirmed offset, bytes sent) after each accepted chunk.
        carry: ``(metadata, created)``: more metadata for the creation (the segment's
            manifest line, the session's queued events), and ``created(reply_headers)`` is
            called with the creation reply's headers before any byte is sent; if it returns
            False the upload stops there (:class:`PostFirst`). Without a creation (a stored
            upload resumed) ``created`` is not called.

    Raises:
        Cancelled, UploadExpired, UploadError, PostFirst.
    """
    if not item.path or not os.path.isfile(item.path):
        raise UploadError(f"the recording file is missing: {item.path}", permanent=True)
    metadata = segment_metadata(item, item.sha256 or file_sha256(item.path))
    if carry is not None:
        metadata.update(carry[0])
    key = f"item:{item.id}"
    with open(item.path, "rb") as stream:
        def make() -> SegmentUploader:
            return SegmentUploader(
                file_stream=stream, client=TusClient(item.target, headers=headers),
                chunk_size=sizer.next_size(), metadata=metadata, store_url=True,
                url_storage=SqliteUrlStorage(queue), fingerprinter=ItemFingerprint(key),
                upload_checksum=True, transport=transport, path=item.path)

        try:
            try:
                uploader = make()
            except TusCommunicationError as exc:
                if exc.status_code not in (404, 410):
                    raise
                log.info("upload %s: stored upload gone (%s); starting again", item.label,
                         exc.status_code)
                queue.remove_url(key)
                queue.count(item.id, "restarts")
                uploader = make()
            created = not uploader.url
            if created:
                uploader.set_url(uploader.create_url())
                uploader.offset = 0
        except TusCommunicationError as exc:
            raise classify(exc.status_code, _detail(exc), exc) from exc
        if created and carry is not None and not carry[1](uploader.creation_headers or {}):
            uploader.close()
            raise PostFirst()
        queue.mark_resumed(item.id, uploader.offset)
        log.info("upload %s: %s from offset %d of %d", item.label,
                 "resuming" if uploader.offset else "starting", uploader.offset,
                 uploader.stop_at)
        try:
            _chunks(item, queue, uploader, key, sizer, cancel, before_chunk, after_chunk)
        finally:
            uploader.close()


def _chunks(item: QueueItem, queue: UploadQueue, uploader: SegmentUploader, key: str,
            sizer: ChunkSizer, cancel: threading.Event, before_chunk: Callable[[int], bool],
            after_chunk: Callable[[int, int], None]) -> None:
    rejected_in_a_row = 0
    while uploader.offset < uploader.stop_at:
        if cancel.is_set():
            raise Cancelled()
        uploader.chunk_size = sizer.next_size()
        length = uploader.get_request_length()
        if not before_chunk(length):
            raise Cancelled()
        started = time.monotonic()
        try:
            uploader.upload_chunk()
        except TusCommunicationError as exc:
            status = exc.status_code
            if status in (409, 460):  # offset moved or chunk corrupted: ask where we are
                rejected_in_a_row += 1
                queue.count(item.id, "rejected_chunks")
                log.warning("upload %s: chunk at %d rejected (%s); re-sending", item.label,
                            uploader.offset, status)
                if rejected_in_a_row > 5:
                    raise classify(None, f"{rejected_in_a_row} chunks rejected in a row") \
                        from exc
                try:
                    uploader.offset = uploader.get_offset()
                except TusCommunicationError as inner:
                    raise classify(inner.status_code, _detail(inner), inner) from inner
                continue
            if status in (404, 410):
                queue.remove_url(key)
                queue.count(item.id, "restarts")
                raise UploadExpired() from exc
            raise classify(status, _detail(exc), exc) from exc
        rejected_in_a_row = 0
        sent = getattr(uploader.request, "sent", length)
        sizer.observe(sent, time.monotonic() - started)
        queue.mark_progress(item.id, uploader.offset, sent)
        after_chunk(uploader.offset, sent)
