"""The states of an :class:`~zhishiyun.exam.session.ExamSession` and what they share.

States (``state``)::

    entered ─► confirm (written: 考前确认, not recording yet) ─┐
            ─► device_confirm (interviews: 设备确认, recording) ┴─► waiting ─► in_progress
            ─► finishing ─► done

A resumed session goes straight to waiting or in progress, recording.
"""

from __future__ import annotations

import enum
from typing import Any

from zhishiyun.errors import ZhishiyunError


class State(str, enum.Enum):
    """Where the candidate is in the exam."""

    NEW = "new"
    ENTERED = "entered"
    CONFIRM = "confirm"
    DEVICE_CONFIRM = "device_confirm"
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    FINISHING = "finishing"
    DONE = "done"


#: Entered and not ended: the time runs out in each of these (the ticker ends the exam).
BEFORE_END = (State.ENTERED, State.CONFIRM, State.DEVICE_CONFIRM, State.WAITING,
              State.IN_PROGRESS)
#: The event a written exam's confirmation records; once in the store, a resume skips it.
WRITTEN_CONFIRMED = "written_checklist_confirmed"


class ExamError(ZhishiyunError):
    """The exam cannot go on as asked (the message says why and what to do)."""


def outage_end(event: dict[str, Any]) -> bool:
    """The end of an outage that began during the exam, recorded after its end."""
    return event.get("kind") == "network_back" and (event.get("details") or {}).get(
        "after_end") is True
