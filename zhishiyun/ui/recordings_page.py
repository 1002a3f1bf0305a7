"""考试录像: per exam, what was recorded, what the server has, and playback of local parts.

:func:`gather_recordings` (blocking, no Qt) joins three views of each session: the
segment files still on this computer, the upload queue's state of each, and what the
server says it received (``GET /sessions/{sid}/recordings``). :class:`RecordingsWidget`
shows one card per exam with a line per part (屏幕录像 第 1 段 · 已上传 · 在本机) and plays
a part that is still on this computer in :class:`PlaybackDialog` (:mod:`zhishiyun.ui.playback`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.exam.pages import track_text
from zhishiyun.ui.model import size_text
from zhishiyun.ui.playback import ClipPlayer
from zhishiyun.ui.qt import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    Qt,
    QVBoxLayout,
    QWidget,
)
from zhishiyun.ui.style import set_variant
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import CardWidget, PageWidget, PreviewWidget, button, label

log = logging.getLogger(__name__)
TRACK_ORDER = {"screen": 0, "camera": 1, "phone": 2}


@dataclass(frozen=True)
class RecordingPart:
    """One segment of one track.

    Attributes:
        state: ``uploaded`` (the server has it), ``pending`` (queued or waiting here),
            ``failed`` (the server refused it for good) or ``local`` (not queued: the part
            is still being written; it is queued when it closes).
        path: the file on this computer, or None once it was removed.
    """

    track: str
    seq: int
    state: str
    path: Path | None
    size: int = 0


@dataclass
class ExamRecordings:
    """What there is of one exam session; ``server_error`` when the server was not asked."""

    session_id: str
    exam_name: str
    parts: list[RecordingPart] = field(default_factory=list)
    server_error: str = ""

    def count(self, state: str) -> int:
        """How many parts are in ``state``."""
        return sum(1 for p in self.parts if p.state == state)


def gather_recordings(client: Any, queue: Any, data_dir: Path) -> list[ExamRecordings]:
    """Every session of mine (server) or on this computer, with its parts. Blocking.

    A server that cannot be reached leaves the local view (``server_error`` says why).
    """
    from zhishiyun.api.errors import ApiError
    from zhishiyun.capture.recovery import segment_files

    sessions: dict[str, str] = {}
    server_error = ""
    try:
        for exam in client.exams():
            if exam.session_id:
                sessions[exam.session_id] = exam.name
    except ApiError as exc:
        server_error = message_for(exc)
    root = Path(data_dir) / "sessions"
    for directory in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        sessions.setdefault(directory.name, _local_exam_name(directory))
    found = []
    for session_id, exam_name in sessions.items():
        entry = ExamRecordings(session_id, exam_name, server_error=server_error)
        received: dict[str, set[int]] = {}
        if not server_error:
            try:
                tracks = client.recordings(session_id).tracks
                received = {name: set(t.received) for name, t in tracks.items()}
            except ApiError as exc:
                entry.server_error = message_for(exc)
        queued = {(i.track, i.seq): i.state for i in queue.items(session_id)
                  if i.kind == "segment"} if queue is not None else {}
        files = {(track, seq): path for track, seq, path in
                 segment_files(Path(data_dir) / "sessions" / session_id)}
        keys = set(files) | {(t, s) for t, seqs in received.items() for s in seqs}
        for track, seq in sorted(keys, key=lambda k: (TRACK_ORDER.get(k[0], 9), k[0], k[1])):
            path, queued_state = files.get((track, seq)), queued.get((track, seq))
            if seq in received.get(track, ()) or queued_state == "done":
                state = "uploaded"
            elif queued_state == "failed":
                state = "failed"
            elif queued_state is not None:
                state = "pending"
            else:
                state = "local"
            size = path.stat().st_size if path is not None and path.exists() else 0
            entry.parts.append(RecordingPart(track, seq, state, path, size))
        found.append(entry)
    # What still needs this computer first (an exam under way, parts not uploaded yet).
    return sorted(found, key=lambda e: e.count("uploaded") == len(e.parts))


def _local_exam_name(directory: Path) -> str:
    import json

    from zhishiyun.exam.retention import EXAM_INFO_NAME

    try:
        return str(json.loads((directory / EXAM_INFO_NAME).read_text("utf-8"))["exam_name"])
    except (OSError, ValueError, KeyError, TypeError):
        return directory.name


def part_text(part: RecordingPart) -> str:
    """屏幕录像 第 1 段 · 已上传 · 在本机 (1.2 MB)."""
    state = {"uploaded": _("uploaded"), "pending": _("waiting to upload"),
             "failed": _("upload refused"), "local": _("still being recorded")}[part.state]
    where = (_("on this computer ({size})").format(size=size_text(part.size))
             if part.path is not None else _("only on the server"))
    return " · ".join((track_text(part.track, part.seq), state, where))


class PlaybackDialog(QDialog):
    """Plays one local part: the picture, its sound, and how far it has played."""

    def __init__(self, part: RecordingPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recordingPlayback")
        self.setWindowTitle(track_text(part.track, part.seq))
        box = QVBoxLayout(self)
        self.preview = PreviewWidget(_("Loading…"))
        box.addWidget(self.preview, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setAccessibleName(_("Progress"))
        box.addWidget(self.progress)
        self.status = label("", "muted", wrap=True, name="playbackStatus")
        box.addWidget(self.status)
        close = button(_("Close"), name="playbackClose")
        close.clicked.connect(self.close)
        box.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.resize(720, 520)
        preview, bar = self.preview, self.progress
        self.player = ClipPlayer(part.path, on_main(lambda f: preview.show_frame(f, mirror=False)),
                                 on_main(self._on_finished),
                                 on_progress=on_main(lambda s: bar.setValue(round(s * 1000))))
        self.finished_playing = False
        self.player.start()

    def _on_finished(self, error: str) -> None:
        self.finished_playing = True
        if error:
            self.status.setText(_("The recording cannot be played: {error}").format(error=error))
        else:
            self.progress.setValue(self.progress.maximum())
            self.status.setText(_("Played to the end."))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Stop the picture and the sound with the window."""
        self.player.stop()
        super().closeEvent(event)


class ExamRecordingsCard(CardWidget):
    """One exam: a summary line, a line per part, 播放 for the selected local part."""

    def __init__(self, entry: ExamRecordings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setObjectName(f"recordings_{entry.session_id}")
        self.body.addWidget(label(entry.exam_name or entry.session_id, "subtitle", wrap=True))
        summary = _("{up} parts uploaded, {waiting} waiting to upload, {here} still on this "
                    "computer").format(up=entry.count("uploaded"),
                                       waiting=entry.count("pending") + entry.count("local"),
                                       here=sum(1 for p in entry.parts if p.path is not None))
        if entry.count("failed"):
            summary += _("; {n} refused by the server").format(n=entry.count("failed"))
        self.summary = label(summary, "muted", wrap=True)
        self.body.addWidget(self.summary)
        if entry.server_error:
            self.body.addWidget(label(_("What the server has is not known now: {error}").format(
                error=entry.server_error), "error", wrap=True))
        self.parts = QListWidget()
        self.parts.setObjectName("recordingParts")
        self.parts.setAccessibleName(_("Recorded parts"))
        for part in entry.parts:
            item = QListWidgetItem(part_text(part))
            item.setData(Qt.ItemDataRole.UserRole, part)
            self.parts.addItem(item)
        self.parts.setMaximumHeight(min(220, 24 + 22 * max(1, len(entry.parts))))
        self.body.addWidget(self.parts)
        row = QHBoxLayout()
        row.addStretch(1)
        self.play_button = button(_("Play"), name="recordingPlay")
        self.play_button.setEnabled(False)
        row.addWidget(self.play_button)
        self.body.addLayout(row)
        self.parts.currentItemChanged.connect(self._on_selection)
        self.parts.itemDoubleClicked.connect(lambda _item: self.play_button.click())

    def part(self, track: str, seq: int) -> RecordingPart | None:
        """The part of ``track`` numbered ``seq``."""
        return next((p for p in self.entry.parts if (p.track, p.seq) == (track, seq)), None)

    def select(self, track: str, seq: int) -> None:
        """Select a part's line (as a click does)."""
        for index in range(self.parts.count()):
            part = self.parts.item(index).data(Qt.ItemDataRole.UserRole)
            if (part.track, part.seq) == (track, seq):
                self.parts.setCurrentRow(index)
                return

    def selected(self) -> RecordingPart | None:
        """The part whose line is selected."""
        item = self.parts.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _on_selection(self, *_args: Any) -> None:
        part = self.selected()
        playable = part is not None and part.path is not None and part.path.exists()
        self.play_button.setEnabled(playable)
        self.play_button.setToolTip("" if playable or part is None else _(
            "Only parts still on this computer can be played here."))


class RecordingsWidget(PageWidget):
    """考试录像: every exam's recordings; refreshes when shown.

    Args:
        gather: returns :class:`ExamRecordings` for every session (blocking; run off the
            UI thread).
    """

    def __init__(self, gather: Callable[[], list[ExamRecordings]],
                 parent: QWidget | None = None) -> None:
        super().__init__(_("Exam recordings"), parent)
        self._gather = gather
        self._loading = False
        self.cards: list[ExamRecordingsCard] = []
        self.playback: PlaybackDialog | None = None
        self.refresh_button = button(_("Refresh"), name="refreshRecordings")
        self.refresh_button.clicked.connect(self.refresh)
        self.title_row.addWidget(self.refresh_button)
        self.content.addWidget(label(_(
            "What each exam recorded and what the exam server has received. Parts still on "
            "this computer can be played; they are deleted some days after the server has "
            "them all."), "muted", wrap=True))
        self.status = label("", "muted", wrap=True, name="recordingsStatus")
        self.content.addWidget(self.status)
        self.cards_box = QVBoxLayout()
        self.cards_box.setSpacing(14)
        self.content.addLayout(self.cards_box)
        self.content.addStretch(1)

    def card(self, session_id: str) -> ExamRecordingsCard | None:
        """The card of one session."""
        return next((c for c in self.cards if c.entry.session_id == session_id), None)

    def refresh(self) -> None:
        """Read the recordings again (off the UI thread)."""
        if self._loading:
            return
        self._loading = True
        self.refresh_button.setEnabled(False)
        self._say(_("Reading the recordings…"), "muted")
        run_task(self._gather, self._on_gathered)

    def _on_gathered(self, entries: Any, error: BaseException | None) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)
        if error is not None:
            log.warning("recordings not readable: %r", error)
            self._say(message_for(error), "error")
            return
        self._say("" if entries else _("No exam has been recorded on this computer or "
                                       "uploaded yet."), "muted")
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        for entry in entries:
            card = ExamRecordingsCard(entry)
            card.play_button.clicked.connect(lambda _c=False, c=card: self.play(c.selected()))
            self.cards_box.addWidget(card)
            self.cards.append(card)

    def play(self, part: RecordingPart | None) -> None:
        """Open the player for a part on this computer."""
        if part is None or part.path is None:
            return
        if self.playback is not None:
            self.playback.close()
        self.playback = PlaybackDialog(part, self)
        self.playback.show()

    def deactivate(self) -> None:
        """Stop a playback when the page is left."""
        if self.playback is not None:
            self.playback.close()
            self.playback = None

    def _say(self, text: str, role: str) -> None:
        self.status.setText(text)
        set_variant(self.status, "role", role)
        self.status.setVisible(bool(text))
