"""The organisation's spoken instruction (指导语), played when the exam starts.

The manual tells candidates to switch the speakers on because "考试开始后会有指导语". When
the exam has one (``instruction`` in its JSON), :func:`attach_instruction` downloads it
through the API client's attachment downloader (sha256 checked) while the candidate waits,
puts :class:`InstructionWidget` in the exam window's side column, and plays it once the
exam is in progress; 重听考试说明 plays it again.

The sound is decoded by PyAV and played by sounddevice (:class:`~zhishiyun.ui.playback.
ClipPlayer`, as the device test's playback) rather than QtMultimedia's QMediaPlayer: the
bundle ships PySide6-Essentials, which has no QtMultimedia, and one player for every clip
is simpler to keep working on three systems.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.playback import ClipPlayer
from zhishiyun.ui.qt import QProgressBar, QVBoxLayout, QWidget
from zhishiyun.ui.tasks import on_main, run_task
from zhishiyun.ui.widgets import button, label

log = logging.getLogger(__name__)


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state) or "")


class InstructionWidget(QWidget):
    """正在播放考试说明 / 考试说明已播放完, with a replay button and the share played.

    Args:
        session: the exam session (its ``state`` and ``session_did_change`` say when the
            exam starts).
        path: the downloaded instruction file.
    """

    def __init__(self, session: Any, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("instructionPanel")
        self.session, self.path = session, Path(path)
        self.player: ClipPlayer | None = None
        self.played = False
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        box.addWidget(label(_("Spoken instruction"), "subtitle"))
        self.line = label(_("The organisation's spoken instruction plays when the exam "
                            "starts: switch your speakers on."), "muted", wrap=True,
                          name="instructionLine")
        box.addWidget(self.line)
        self.progress = QProgressBar()
        self.progress.setObjectName("instructionProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        box.addWidget(self.progress)
        self.replay_button = button(_("Play the instruction again"), name="instructionReplay")
        self.replay_button.clicked.connect(self.play)
        self.replay_button.setEnabled(False)
        box.addWidget(self.replay_button)
        self._relay = on_main(self._on_session_change)
        self._frame_sink = lambda _frame: None
        self._finished = on_main(self._on_finished)
        self._progressed = on_main(self._on_progress)

    def start(self) -> None:
        """Follow the session; play at once if the exam is already in progress."""
        self.session.session_did_change.append(self._relay)
        self.replay_button.setEnabled(True)
        if _state_name(self.session.state) == "in_progress":
            self.play()

    def stop(self) -> None:
        """Stop the sound and stop following the session (the exam ended or was left)."""
        listeners = self.session.session_did_change
        listeners[:] = [c for c in listeners if c is not self._relay]
        if self.player is not None:
            self.player.stop()
            self.player = None
        self.replay_button.setEnabled(False)

    def play(self) -> None:
        """Play the instruction from its beginning (off the UI thread)."""
        if self.player is not None:
            self.player.stop()
        self.played = True
        self.line.setText(_("Playing the exam's spoken instruction…"))
        self.progress.setValue(0)
        self.progress.show()
        self.player = ClipPlayer(self.path, self._frame_sink, self._finished,
                                 on_progress=self._progressed)
        self.player.start()

    def _on_session_change(self, kind: str, value: Any) -> None:
        if kind == "state" and _state_name(value) == "in_progress" and not self.played:
            self.play()

    def _on_progress(self, share: float) -> None:
        self.progress.setValue(int(share * 1000))

    def _on_finished(self, error: str) -> None:
        self.player = None
        self.progress.hide()
        if error:
            self.line.setText(_("The spoken instruction could not be played: {error}").format(
                error=error))
        else:
            self.line.setText(_("The spoken instruction has been played."))


def attach_instruction(exam_window: Any, directory: Path) -> None:
    """Add the instruction panel to ``exam_window`` if its exam has a spoken instruction.

    The exam's JSON and the file are fetched off the UI thread; a failure leaves a line in
    the log and the exam goes on without the panel (the instruction is a help, not a gate).
    """
    session = exam_window.session
    client, exam_id = session.client, session.exam_id

    def fetch() -> Path | None:
        instruction = getattr(client.exam(exam_id), "instruction", None)
        if instruction is None:
            return None
        return client.save_instruction(instruction, Path(directory) / str(exam_id))

    def fetched(path: Any, error: BaseException | None) -> None:
        if error is not None:
            log.warning("the spoken instruction is not available: %s", message_for(error))
            return
        if path is None:
            return
        try:
            if getattr(exam_window, "_leaving", False):
                return  # the window was left meanwhile
        except RuntimeError:  # the window was deleted meanwhile
            return
        panel = InstructionWidget(session, path)
        exam_window.add_side_panel(panel)
        exam_window.left.connect(lambda _how: panel.stop())
        panel.start()

    run_task(fetch, fetched)
