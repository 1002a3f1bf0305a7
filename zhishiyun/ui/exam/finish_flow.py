"""Handing in and the end in the exam window: 交卷 / 结束考试, the receipt, the uploads.

The finish runs on the window's serial pool, after the answer saves queued before it. The
finishing page's upload progress is read off the UI thread (pool of short polls); events
the server refused as written after the end are counted there and told in one line.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from zhishiyun.exam.problems import describe, stuck_reason
from zhishiyun.exam.session import State
from zhishiyun.exam.session_end import refused_after_end
from zhishiyun.i18n import _
from zhishiyun.ui.errors import message_for
from zhishiyun.ui.tasks import run_quick, run_task
from zhishiyun_formats.receipt import answers_receipt

#: How often the server's answer receipt is asked for again when it could not be read.
RECEIPT_RETRY_S = 10.0


class FinishFlowMixin:
    """交卷, 结束考试 and the finishing page of :class:`~zhishiyun.ui.exam.window.ExamWindow`.

    Needs ``session``, ``answers``, ``finishing``, ``banners``, ``ask``, the hand-in buttons
    and ``_writes`` (the serial pool of answer saves) on the window.
    """

    def _on_submit(self) -> None:
        self.answers.save_now()
        missing = self.answers.unanswered()
        text = (_("Questions without an answer: {list}.").format(
            list=_(", ").join(missing))  # zh_CN: 未作答：第 2、3、4 题。
                if missing else _("Every question has an answer."))
        if self.ask(self, _("Submit answers"), text + "\n" + _(
                "Your answers will be submitted to the organiser and the exam ends; you "
                "cannot change them afterwards. Submit now?")):
            self._submitted_at = datetime.now().strftime("%H:%M:%S")
            self._finish("candidate_ended")

    def _show_receipt(self, uploaded: bool) -> None:
        """答卷已提交 with the receipt code; once uploaded, the server's code for comparison."""
        code = answers_receipt(self.session.answers())
        at = getattr(self, "_submitted_at", "") or datetime.now().strftime("%H:%M:%S")
        self._submitted_at = at
        self.finishing.show_receipt(at, code, getattr(self, "_server_receipt", None))
        now = time.monotonic()
        if not uploaded or now - getattr(self, "_receipt_asked", -60.0) < RECEIPT_RETRY_S:
            return
        self._receipt_asked = now
        session = self.session

        def server_code() -> str:
            return session.client.finish(session.session_id, session.finish_reason
                                         ).answers_receipt

        def got(reply: Any, error: BaseException | None) -> None:
            if error is None and reply:
                self._server_receipt = reply
                self.finishing.show_receipt(at, code, reply)

        run_quick(server_code, got)

    def _on_end(self) -> None:
        self.answers.save_now()
        if self.ask(self, _("End exam"), _("Do you really want to end the exam now? You "
                                           "cannot return to it afterwards.")):
            self._finish("candidate_ended")

    def _finish(self, reason: str) -> None:
        self.end_button.setEnabled(False)
        self.submit_button.setEnabled(False)
        session = self.session
        run_task(lambda: session.finish(reason), self._on_finished, self._writes)

    def _on_finished(self, _result: Any, error: BaseException | None) -> None:
        if error is not None:
            self.banners.show_banner("finish", message_for(error), "red")

    def _update_finishing(self) -> None:
        """Show the last upload progress; read the next one from the queue off the UI thread."""
        items, totals = self._upload_view
        self.finishing.update_uploads(items, totals, self.session.state == State.DONE,
                                      self.session.online)
        if self._polling:
            return
        self._polling = True
        session = self.session

        def read() -> tuple[list, dict, str | None, int]:
            queued = session.queue.items(session.session_id)
            batches, refused = refused_after_end(queued)
            totals = dict(session.upload_totals())
            if batches:  # a refusal no retry can change: not a failed upload
                totals["items_failed"] = max(0, totals.get("items_failed", 0) - batches)
                queued = [i for i in queued if not (i.kind == "events" and i.state == "failed"
                                                    and "saved_after_end" in (i.reason or ""))]
            reason = stuck_reason(queued)
            return session.segment_items(), totals, describe(reason) if reason else None, \
                refused + session.events_after_end

        run_quick(read, self._on_upload_view)

    def _on_upload_view(self, view: Any, error: BaseException | None) -> None:
        self._polling = False
        if error is None:
            items, totals, problem, after_end = view
            self._upload_view = (items, totals)
            self.finishing.update_uploads(items, totals, self.session.state == State.DONE,
                                          self.session.online)
            self.finishing.show_after_end(after_end)
            if problem:  # a reason that keeps coming back, with what to do
                self.finishing.summary.setText(problem)

    def _on_retry_uploads(self) -> None:
        session = self.session
        run_quick(session.retry_uploads)

    def _on_leave_requested(self) -> None:
        if self.finishing.done:
            self._leave("done")
        elif self.ask(self, _("Uploads are not finished"), _(
                "Some recordings are not uploaded yet. If you leave now, they keep uploading "
                "while Zhishiyun stays open, and continue the next time you start it. If they "
                "never arrive, the organiser may not accept your exam. Leave anyway?")):
            self._leave("leave_pending")
