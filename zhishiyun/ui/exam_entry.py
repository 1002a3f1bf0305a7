"""The hand-over point to the exam window (GUI part 2).

``enter_exam(window, services, exam)`` is called on the main thread when the candidate
presses 进入考试 on an exam whose entry window is open. Part 2 replaces the body with the
exam window (session creation, recording, waiting room, papers). Until then it says plainly
that the exam window is not in this release — it never pretends an exam started.
"""

from __future__ import annotations

import logging
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.model import get
from zhishiyun.ui.qt import QMessageBox, QWidget

log = logging.getLogger(__name__)


def enter_exam(window: QWidget, services: Any, exam: Any) -> None:
    """Open the exam window for ``exam`` (part 2). For now: explain it is not available."""
    log.info("enter requested for exam %s; the exam window is not in this release",
             get(exam, "id"))
    QMessageBox.information(
        window, _("Enter exam"),
        _("The exam window arrives in the next release of the client. Nothing was "
          "recorded and you have not entered “{name}”.").format(name=get(exam, "name", "")))
