"""What rides with a segment's tus creation: its manifest line and the session's queued events.

A creation may carry the segment's manifest line (metadata ``manifest``) and the session's
queued events (metadata ``events``: the body ``POST /events`` would get, with the session
id); the server stores them in the creation's transaction and says so in its reply
(``Zhishiyun-Manifest`` / ``Zhishiyun-Events``). This module decides, from the queue,
what may ride (:func:`plan`); the worker sends it and settles the items.

The rule: nothing ever waits for a segment. Items ride only with the creation the worker
would make next anyway:

- a manifest line, when the very next item the queue would hand out after it is its own
  segment, not created yet (so no other line and no older segment is backlogged);
- the events ops at the head of the queue (the queue hands them out before lines and
  segments), when *all* of the session's pending ones fit in the metadata
  (:data:`~zhishiyun.upload.tus.MAX_METADATA_BYTES` for the whole header, which an older
  server or a proxy also takes) and the item after them is a segment that can be created
  now (with its line, by the rule above, or without one). Otherwise the first events op is
  posted on its own, as it always was: an events op with no segment to ride on goes at
  once.

Servers that answered a creation without the header are remembered by the worker
(``plain_lines``, ``plain_events``): they get those items posted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from zhishiyun.upload.queue import QueueItem, UploadQueue
from zhishiyun.upload.tus import (
    EVENTS_KEY,
    MANIFEST_KEY,
    MAX_CARRIED_LINE,
    MAX_METADATA_BYTES,
    metadata_bytes,
    segment_metadata,
)

#: Events ops looked at ahead of a segment; more than this pending is a backlog (posted).
MAX_EVENT_OPS = 16


@dataclass(frozen=True)
class Ride:
    """A segment to create now, and the items that travel with its creation."""

    segment: QueueItem
    line_item: QueueItem | None = None
    line: str | None = None
    event_items: tuple[QueueItem, ...] = ()
    events: str | None = None

    def metadata(self) -> dict[str, str]:
        """The metadata the creation carries beside the segment's own."""
        extra = {}
        if self.line is not None:
            extra[MANIFEST_KEY] = self.line
        if self.events is not None:
            extra[EVENTS_KEY] = self.events
        return extra


def plan(queue: UploadQueue, item: QueueItem, *, current_session: str | None,
         skip_hosts: Iterable[str], plain_lines: set[str],
         plain_events: set[str]) -> Ride | None:
    """The ride ``item`` (the queue's next item) is part of, or None: send it on its own."""
    hosts = frozenset(skip_hosts)
    if item.kind == "manifest":
        return _with_line(queue, item, (), current_session, hosts, plain_lines)
    if item.kind != "events" or item.host in plain_events:
        return None
    riders = [item]
    head = _after(queue, riders, current_session, hosts)
    while (head is not None and head.kind == "events" and head.session_id == item.session_id
           and head.host == item.host):
        riders.append(head)
        if len(riders) > MAX_EVENT_OPS:
            return None
        head = _after(queue, riders, current_session, hosts)
    if head is None or head.session_id != item.session_id or head.host != item.host:
        return None
    if head.kind == "manifest":
        ride = _with_line(queue, head, riders, current_session, hosts, plain_lines)
    elif head.kind == "segment" and _creatable(queue, head):
        ride = Ride(head)
    else:
        return None
    if ride is None or ride.segment.host != item.host:
        return None
    events = _joined(item.session_id, riders)
    if events is None or metadata_bytes({**segment_metadata(ride.segment), **ride.metadata(),
                                         EVENTS_KEY: events}) > MAX_METADATA_BYTES:
        return None
    return Ride(ride.segment, ride.line_item, ride.line, tuple(riders), events)


def _after(queue: UploadQueue, taken: list[QueueItem], current_session: str | None,
           hosts: frozenset[str]) -> QueueItem | None:
    return queue.next_pending(current_session, skip=[i.id for i in taken], skip_hosts=hosts)


def _creatable(queue: UploadQueue, segment: QueueItem) -> bool:
    """Whether ``segment``'s next step is its creation (no upload URL stored yet)."""
    return queue.get_url(f"item:{segment.id}") is None


def _with_line(queue: UploadQueue, line_item: QueueItem, before: Iterable[QueueItem],
               current_session: str | None, hosts: frozenset[str],
               plain_lines: set[str]) -> Ride | None:
    """``line_item``'s segment and line, when the segment is the next item after it."""
    line = _single_line(line_item.payload)
    if line is None:
        return None
    following = _after(queue, [*before, line_item], current_session, hosts)
    if (following is None or following.kind != "segment"
            or following.session_id != line_item.session_id
            or (following.track, following.seq) != line[1:]
            or following.host in plain_lines or not _creatable(queue, following)):
        return None
    return Ride(following, line_item, line[0])


def _single_line(payload: str | None) -> tuple[str, str, int] | None:
    """A manifest item's one line with its track and seq, if it can travel with a creation."""
    try:
        lines = json.loads(payload or "")["lines"]
        if len(lines) != 1 or len(lines[0].encode("utf-8")) > MAX_CARRIED_LINE:
            return None
        record = json.loads(lines[0])
        track, seq = record["track"], record["seq"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(track, str) or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return lines[0], track, seq


def _joined(session_id: str, items: list[QueueItem]) -> str | None:
    """One ``POST /events`` body of every event of ``items`` (None: an item is unreadable)."""
    events: list = []
    for item in items:
        try:
            batch = json.loads(item.payload or "")["events"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(batch, list):
            return None
        events += batch
    return json.dumps({"session_id": session_id, "events": events}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"))
