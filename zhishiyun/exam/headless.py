"""``zhishiyun exam run``: a whole exam without the GUI, for QA and support.

It runs on the same parts as the GUI: one :class:`~zhishiyun.exam.runtime.ExamRuntime`
built from the effective settings (server, CA bundle, proxy, data directory) and one
:class:`~zhishiyun.exam.session.ExamSession`, whose ticker, recorder and presence sampler
are the proctoring watchers of a headless exam (network, devices, disk, face presence).

The walk: password login, enter the exam (``next`` = the first whose entry window is
open), record for ``--seconds``, save the answers of ``--answers`` halfway through (as a
candidate typing during the exam would; once the papers are open), end the exam, wait
(bounded by ``--upload-timeout``) until the server has everything, print one JSON summary
on stdout. Interviews: the devices are confirmed on the candidate's behalf.

Exit codes: 0 everything reached the server; 1 something is still pending (it stays in
the queue for ``zhishiyun upload``) or the exam could not be run (one line says why, e.g.
rules not accepted without ``--accept-rules``, no open exam, login refused); 2 bad usage.

Devices: ``--camera`` / ``--mic`` win; without them the exam records with what the GUI
exam would (:func:`~zhishiyun.device_choice.exam_device_plan`: this computer's saved choice,
else the settings). A saved device that is gone is kept, as the GUI keeps it: the recorder
reports it lost (a proctoring event) and retries; the summary's ``devices`` say which device
each was, where it came from and whether it was lost.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhishiyun.capture.manifest import MANIFEST_NAME, read_records
from zhishiyun.config import Settings
from zhishiyun.device_choice import ExamDevice, exam_device_plan, microphone_on_this_computer
from zhishiyun.errors import ZhishiyunError
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import ExamError, ExamSession, State
from zhishiyun.i18n import _

log = logging.getLogger(__name__)
EXIT_OK, EXIT_PENDING, EXIT_USAGE = 0, 1, 2
DEFAULT_UPLOAD_TIMEOUT_S = 120.0  # also the default of --upload-timeout (cli.py)
STEP_S = 0.2


class UsageError(ZhishiyunError):
    """The command line or a file it names cannot be used (exit 2)."""


@dataclass
class ExamPlan:
    """What the headless candidate does.

    Attributes:
        id_number: the candidate's ID number; password: the login password.
        exam: an exam id, or ``"next"`` for the first exam whose entry window is open.
        accept_rules: accept the exam's rules when not accepted yet.
        seconds: how long to record.
        answers: question id → text, saved halfway through.
        camera: camera index or a video file; ``None`` records no camera.
        microphone: microphone name, ``None`` for the default, ``"none"`` for no audio.
        screen: record the screen.
        upload_timeout_s: how long to wait for the server to have everything.
        kind: with ``next``, only exams of this kind (``written`` or ``interview``).
        devices: where ``camera`` and ``microphone`` came from, for the summary (a plan
            without them says ``given``).
    """

    id_number: str
    password: str
    exam: int | str = "next"
    accept_rules: bool = False
    seconds: float = 20.0
    answers: dict[str, str] = field(default_factory=dict)
    camera: int | str | None = 0
    microphone: str | None = None
    screen: bool = True
    upload_timeout_s: float = DEFAULT_UPLOAD_TIMEOUT_S
    kind: str | None = None
    devices: dict[str, ExamDevice] = field(default_factory=dict)


def choose_exam(exams: list[Any], wanted: int | str, kind: str | None = None) -> Any:
    """The exam to enter: by id, or the first (of ``kind``) whose entry is open (``next``)."""
    if wanted == "next":
        for exam in exams:
            if exam.state in ("open", "in_progress") and kind in (None, exam.kind):
                return exam
        raise ExamError(_("No exam has its entry window open now."),
                        hint=_("see the exam list in the app, or give --exam ID"))
    for exam in exams:
        if exam.id == wanted:
            return exam
    raise ExamError(_("You have no exam with id {id}.").format(id=wanted))


class HeadlessExam:
    """One headless exam on ``runtime`` following ``plan``; :meth:`run` returns the summary."""

    def __init__(self, runtime: ExamRuntime, plan: ExamPlan) -> None:
        self.runtime, self.plan = runtime, plan
        self.session: ExamSession | None = None
        self.answers_saved = False

    def run(self) -> dict[str, Any]:
        """Log in, enter, record, answer, finish, wait for the uploads; the JSON summary."""
        client, plan = self.runtime.client, self.plan
        client.store_login(client.login_password(plan.id_number, plan.password))
        exam = choose_exam(client.exams(), plan.exam, plan.kind)
        if not exam.accepted:
            if not plan.accept_rules:
                raise ExamError(_("The rules of “{name}” are not accepted yet.").format(
                    name=exam.name), hint=_("read them in the app, or pass --accept-rules"))
            client.accept(exam.id)
        self.runtime.start()
        session = self.session = self.runtime.session(
            exam, camera=plan.camera, microphone=plan.microphone, screen=plan.screen)
        devices = self.devices()
        print(_("Recording with camera {camera} ({camera_from}), microphone {microphone} "
                "({microphone_from}).").format(
            camera=devices["camera"]["device"], camera_from=devices["camera"]["from"],
            microphone=devices["microphone"]["device"],
            microphone_from=devices["microphone"]["from"]), file=sys.stderr, flush=True)
        session.enter()
        print(_("Entered “{name}” (session {sid}); recording {seconds:.0f} s…").format(
            name=session.exam_name, sid=session.session_id, seconds=plan.seconds),
            file=sys.stderr, flush=True)
        self._record()
        if not session.finish_reason:
            session.finish("candidate_ended")
        self._wait_for_uploads()
        return self.summary()

    def _record(self) -> None:
        session, plan = self.session, self.plan
        start = time.monotonic()
        halfway, end = start + plan.seconds / 2, start + plan.seconds
        while time.monotonic() < end and not session.finish_reason:
            if session.state == State.DEVICE_CONFIRM:
                session.confirm_devices()  # the headless candidate sees its devices work
            if not self.answers_saved and time.monotonic() >= halfway \
                    and session.state == State.IN_PROGRESS:
                for question_id, text in plan.answers.items():
                    session.save_answer(question_id, text)
                self.answers_saved = True
            time.sleep(STEP_S)
        if plan.answers and not self.answers_saved:
            print(_("The answers were not saved: the papers did not open while recording."),
                  file=sys.stderr)

    def _wait_for_uploads(self) -> None:
        deadline = time.monotonic() + self.plan.upload_timeout_s
        while time.monotonic() < deadline and self.session.state != State.DONE:
            if self.session.upload_totals().get("items_failed"):
                break  # a refusal will not go away by waiting
            time.sleep(STEP_S)

    def summary(self) -> dict[str, Any]:
        """What was recorded and what the server confirmed (from the queue's records)."""
        session = self.session
        recorded: dict[str, list[int]] = {}
        for record in read_records(session.session_dir / MANIFEST_NAME):
            recorded.setdefault(str(record["track"]), []).append(int(record["seq"]))
        items = session.queue.items(session.session_id)
        uploaded: dict[str, list[int]] = {}
        for item in items:
            if item.kind == "segment" and item.state == "done":
                uploaded.setdefault(str(item.track), []).append(int(item.seq))
        answers = {q: a.version for q, a in session.store.answers().items()}
        confirmed = sorted(q for q, version in answers.items()
                           if _delivered(items, q, version))
        events_sent = sum(len(json.loads(i.payload or "{}").get("events", []))
                          for i in items if i.kind == "events" and i.state == "done")
        tracks = {t: {"recorded": sorted(seqs), "uploaded": sorted(uploaded.get(t, []))}
                  for t, seqs in sorted(recorded.items())}
        pending = [i for i in items if i.state != "done"]
        devices = self.devices(session.store.events() if session.store is not None else [])
        all_uploaded = (not pending and bool(tracks) and confirmed == sorted(answers)
                        and all(t["recorded"] == t["uploaded"] for t in tracks.values())
                        and (not self.plan.answers or self.answers_saved))
        return {"session_id": session.session_id, "tracks": tracks,
                "answers_confirmed": confirmed, "events_sent": events_sent,
                "finish_reason": session.finish_reason, "devices": devices,
                "pending": [f"{i.label}: {i.reason}" if i.reason else i.label
                            for i in pending],
                "all_uploaded": all_uploaded}

    def devices(self, events: list[dict] | None = None) -> dict[str, dict[str, Any]]:
        """Per device: what was recorded with, where it came from, its loss (from ``events``).

        ``lost`` is what the recorder said when the device failed (``None``: it never did);
        ``restored`` whether it came back before the end.
        """
        described: dict[str, dict[str, Any]] = {}
        for kind, value in (("camera", self.plan.camera), ("microphone", self.plan.microphone)):
            origin = self.plan.devices.get(kind) or ExamDevice(value, "given")  # by a caller
            row: dict[str, Any] = {"device": device_label(kind, value), "from": origin.origin,
                                   "lost": None, "restored": False}
            if origin.chosen_in:
                row["chosen_in"] = origin.chosen_in
            if origin.given_as:
                row["given_as"] = origin.given_as
            described[kind] = row
        for event in events or []:
            row = described.get(str(event["details"].get("source")))
            if row is None:
                continue
            if event["kind"] == "device_lost" and row["lost"] is None:
                row["lost"] = str(event["details"].get("detail") or "lost")
            elif event["kind"] == "device_restored" and row["lost"] is not None:
                row["restored"] = True
        return described


def device_label(kind: str, value: int | str | None) -> int | str:
    """A device as the summary names it: an index, a file or name, ``none``, ``default``."""
    if value is None:
        return "none" if kind == "camera" else "default"
    return value


def lost_device_notes(devices: dict[str, dict[str, Any]]) -> list[str]:
    """One line per device the recorder lost and never got back (for stderr)."""
    places = {"saved": _("saved on this computer"), "settings": _("from the settings"),
              "flag": _("from the command line"), "default": _("the system default")}
    notes = []
    for kind, row in devices.items():
        if row["lost"] is None or row["restored"]:
            continue
        flag = "--camera" if kind == "camera" else "--mic"
        notes.append(_(
            "The {kind} {device} ({place}) did not work: {detail} The exam went on without "
            "it, as the app's exam would (showing a red banner); choose a working one in the "
            "device test, or pass {flag}.").format(
                kind=_("camera") if kind == "camera" else _("microphone"),
                device=row["device"], place=places.get(row["from"], row["from"]),
                detail=row["lost"], flag=flag))
    return notes


def _delivered(items: list[Any], question_id: str, version: int) -> bool:
    """True when the queue confirmed ``version`` of the answer to ``question_id``."""
    for item in items:
        if item.kind != "answer" or item.state != "done":
            continue
        named = getattr(item, "args", "") or ""  # queue items that name an API operation
        if not (item.target.endswith(f"/answers/{question_id}")
                or json.loads(named or "{}").get("question_id") == question_id):
            continue
        if json.loads(item.payload or "{}").get("version") == version:
            return True
    return False


# --- the command ----------------------------------------------------------------------------


def plan_from_args(args: argparse.Namespace, settings: Settings, password: str) -> ExamPlan:
    """Check the command line; raises :class:`UsageError` for anything unusable."""
    if not settings.server_url:
        raise UsageError(_("No exam server is configured."), hint=_("pass --server URL"))
    if not password:
        raise UsageError(_("No password on stdin."),
                         hint=_("echo PASSWORD | zhishiyun exam run --password-stdin …"))
    exam: int | str = str(args.exam).strip().lower()
    if exam != "next":
        if not str(exam).isdigit():
            raise UsageError(_("--exam takes an exam id or next, not {value!r}.").format(
                value=args.exam))
        exam = int(exam)
    if not 0 < args.seconds <= 24 * 3600 or not 0 <= args.upload_timeout <= 24 * 3600:
        raise UsageError(_("--seconds and --upload-timeout take a positive number of seconds."))
    camera, microphone = devices_to_record(args, settings)
    return ExamPlan(id_number=args.id_number.strip(), password=password, exam=exam,
                    accept_rules=args.accept_rules, seconds=args.seconds,
                    answers=_read_answers(args.answers) if args.answers else {},
                    camera=camera.value, microphone=microphone.value,
                    screen=not args.no_screen, upload_timeout_s=args.upload_timeout,
                    devices={"camera": camera, "microphone": microphone})


def devices_to_record(args: argparse.Namespace,
                      settings: Settings) -> tuple[ExamDevice, ExamDevice]:
    """The camera and microphone: ``--camera``/``--mic``, else what the GUI exam records with.

    A flag or a settings value naming a camera file that does not exist is bad usage; a
    saved one is kept as the GUI keeps it (the recording reports it lost).
    """
    from zhishiyun.capture.devices import microphone_to_open

    camera, microphone = exam_device_plan(settings.data_path, settings.camera,
                                          settings.microphone)
    if args.camera is not None:
        camera = ExamDevice(_camera(args.camera), "flag")
    elif camera.origin != "saved":
        camera = ExamDevice(_camera(settings.camera), camera.origin)
    if args.mic is not None:
        microphone = ExamDevice(str(args.mic).strip() or None, "flag")
    return camera, microphone_on_this_computer(microphone, microphone_to_open)


def _read_answers(name: str) -> dict[str, str]:
    try:
        data = json.loads(Path(name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(_("The answers file {path} cannot be read: {error}").format(
            path=name, error=exc)) from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in data.items()):
        raise UsageError(_("The answers file must hold one JSON object of question id to "
                           "answer text, e.g. {example}.").format(example='{"1": "…"}'))
    return data


def _camera(value: Any) -> int | str:
    text = str(value or "").strip()
    if not text or text.isdigit():
        return int(text or 0)
    if not Path(text).is_file():
        raise UsageError(_("The camera file {path} does not exist.").format(path=text))
    return text


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``zhishiyun exam run``; see the module docstring for the exit codes."""
    from zhishiyun.api.tokens import TokenStore

    try:
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ""
        plan = plan_from_args(args, settings, password)
    except UsageError as exc:
        print(f"zhishiyun: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_USAGE
    # The login goes to the keyring (when there is one) so `zhishiyun upload` can finish
    # what this run leaves pending.
    runtime = ExamRuntime.from_settings(settings, token_store=TokenStore(settings.server_url))
    exam = HeadlessExam(runtime, plan)
    try:
        summary = exam.run()
    except KeyboardInterrupt:
        if exam.session is None:
            raise
        print(_("Interrupted: the recording is closed; `zhishiyun upload` sends the rest."),
              file=sys.stderr)
        summary = exam.summary()
    finally:
        runtime.close()
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True), flush=True)
    for note in lost_device_notes(summary["devices"]):
        print(note, file=sys.stderr)
    if not summary["all_uploaded"]:
        print(_("Not everything reached the server yet; it stays queued: run "
                "`zhishiyun upload --wait`."), file=sys.stderr)
    return EXIT_OK if summary["all_uploaded"] else EXIT_PENDING
