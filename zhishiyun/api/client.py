"""``ServerClient``: every call of the exam server's API v1 over one ``requests.Session``.

Every call goes through the one :class:`~zhishiyun.api.transport.Transport` (TLS trust with
the organisation's CA bundle added, proxy, a total deadline, reply size caps), with
retries with capped exponential backoff and jitter for idempotent calls only, the login
token from a :class:`~zhishiyun.api.tokens.TokenStore`. Every failure is an
:class:`~zhishiyun.api.errors.ApiError`; a reply that does not fit (HTML from a captive
portal, truncated JSON, missing fields) is ``ApiError(code="bad_reply")``.

Thread-safety: one client may be shared by threads.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests
from pydantic import BaseModel

import zhishiyun
from zhishiyun.api import models as m
from zhishiyun.api.errors import ApiError
from zhishiyun.api.face_phone import FaceAndPhoneCalls
from zhishiyun.api.tokens import TokenStore
from zhishiyun.api.transport import Transport
from zhishiyun.api.wire import (
    _error_fields,
    _load_json,
    parse_list,
    parse_reply,
    safe_filename,
)
from zhishiyun.api.wire import path_segment as _seg
from zhishiyun_formats.manifest import file_sha256

__all__ = ["ServerClient", "parse_list", "parse_reply", "safe_filename"]

log = logging.getLogger(__name__)
API = "/api/v1"
T = TypeVar("T", bound=BaseModel)
RETRY_STATUSES = frozenset({502, 503, 504})
#: ``GET`` path of the release description (the version check asks it directly too).
RELEASE_PATH = "/client/release"


def api_endpoint(server_url: str, path: str) -> str:
    """The full URL of API ``path`` (e.g. ``/health``) on the server at ``server_url``."""
    return server_url.rstrip("/") + API + path


class ServerClient(FaceAndPhoneCalls):
    """The exam server's API, typed.

    Args:
        base_url: server root, e.g. ``https://exam.example.cn`` (``/api/v1`` is added).
        token_store: where the login token lives (default: keyring for this URL).
        ca_bundle: an extra PEM bundle the organisation trusts ('' for system CAs only).
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for each read; a call's total deadline is
            connect + read timeout (more for large bodies, see :class:`Transport`).
        retries: extra attempts for idempotent calls after a network error or 502/503/504.
        backoff: first retry delay in seconds (doubles each time, capped at 8 s, ±50 %).
        proxy: optional HTTP(S) proxy URL.
        transport: use this transport (then ``ca_bundle``, ``proxy`` and the timeouts are
            its own).
    """

    def __init__(self, base_url: str, *, token_store: TokenStore | None = None,
                 ca_bundle: str = "", connect_timeout: float = 5.0, read_timeout: float = 20.0,
                 retries: int = 3, backoff: float = 0.5, proxy: str = "",
                 transport: Transport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = token_store if token_store is not None else TokenStore(self.base_url)
        self.transport = transport or Transport(ca_bundle=ca_bundle, proxy=proxy,
                                                connect_timeout=connect_timeout,
                                                read_timeout=read_timeout)
        self.timeout = (self.transport.connect_timeout, self.transport.read_timeout)
        self.retries = retries
        self.backoff = backoff
        self._closed = threading.Event()

    @classmethod
    def from_settings(cls, settings: Any, *, token_store: TokenStore | None = None,
                      server_url: str | None = None,
                      transport: Transport | None = None) -> ServerClient:
        """A client configured from :class:`zhishiyun.config.Settings`."""
        return cls(server_url or settings.server_url, token_store=token_store,
                   transport=transport or Transport.from_settings(settings))

    @property
    def session(self) -> requests.Session:
        """The transport's session (for code that speaks HTTP itself, e.g. tus)."""
        return self.transport.session

    # --- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop pending retries and close connections."""
        self._closed.set()
        self.transport.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_url(self) -> str:
        """``<base>/api/v1``."""
        return self.base_url + API

    def url(self, path: str) -> str:
        """The full URL of an API ``path`` such as ``/sessions/s1/events``."""
        return self.api_url + path

    @property
    def token(self) -> str | None:
        """The stored login token, if any."""
        return self.tokens.get()

    def auth_headers(self) -> dict[str, str]:
        """``Authorization`` header for other HTTP users (e.g. the tus uploader)."""
        token = self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _send(self, method: str, url: str, *, auth: bool, timeout: Any = None,
              max_bytes: int | None = None, **kwargs: Any) -> requests.Response:
        if not self.base_url:
            raise ApiError(0, "no_server")
        bearer = None
        if auth:
            bearer = self.token
            if not bearer:
                raise ApiError(401, "unauthorized", "no token stored")
        kwargs.pop("stream", None)  # every reply is read here, under its cap and deadline
        deadline = None
        if isinstance(timeout, tuple):
            deadline = sum(t for t in timeout if t)
        elif timeout:
            deadline = float(timeout)
        return self.transport.send(method, url, bearer=bearer, deadline=deadline,
                                   max_bytes=max_bytes, **kwargs)

    def _error(self, response: requests.Response, auth: bool) -> ApiError:
        retry_after = None
        header = response.headers.get("Retry-After", "")
        if header.strip().isdigit():
            retry_after = int(header.strip())
        code, message, details = _error_fields(response)
        if code is None:
            status = response.status_code
            code = ("unavailable" if status in RETRY_STATUSES else
                    "server_error" if status >= 500 else
                    "unauthorized" if status == 401 else
                    "too_many_attempts" if status == 429 else "bad_reply")
        if auth and response.status_code == 401:
            self.tokens.clear()
        return ApiError(response.status_code, code, message, details=details,
                        retry_after=retry_after)

    def raw(self, method: str, path: str, *, auth: bool = True, idempotent: bool = False,
            timeout: Any = None, **kwargs: Any) -> requests.Response:
        """Send a request to ``path`` and return the successful response.

        ``path`` is under ``/api/v1`` unless absolute; errors and retries are handled.
        For calls not wrapped below (e.g. face login with a multipart body).
        """
        url = path if path.startswith("http") else (
            self.base_url + path if path.startswith(API) else self.api_url + path)
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._send(method, url, auth=auth, timeout=timeout, **kwargs)
            except ApiError as exc:
                # one more try after a timeout at most: a server that drips its reply
                # would otherwise hold the caller for every attempt's whole deadline
                if last or exc.code not in ("network", "timeout") or (
                        exc.code == "timeout" and attempt >= 1):
                    raise
                log.info("%s %s: %s, retrying", method, path, exc.code)
            else:
                if response.ok:
                    return response
                if last or response.status_code not in RETRY_STATUSES:
                    raise self._error(response, auth)
                log.info("%s %s: HTTP %s, retrying", method, path, response.status_code)
            delay = min(8.0, self.backoff * 2**attempt) * random.uniform(0.5, 1.5)
            if self._closed.wait(delay):
                raise ApiError(0, "network", "client closed")
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method: str, path: str, model: type[T], *, auth: bool = True,
             idempotent: bool = False, **kwargs: Any) -> T:
        """Send a request and parse its JSON reply into ``model`` (else ``bad_reply``)."""
        response = self.raw(method, path, auth=auth, idempotent=idempotent, **kwargs)
        return parse_reply(response.content, model)

    # --- meta -------------------------------------------------------------------------

    def health(self) -> m.Health:
        """``GET /health``."""
        return self.call("GET", "/health", m.Health, auth=False, idempotent=True)

    def server_time(self, timeout: float | None = None) -> m.ServerTime:
        """``GET /time`` (no retries: the clock measures each round trip itself)."""
        return self.call("GET", "/time", m.ServerTime, auth=False,
                         timeout=(self.timeout[0], timeout) if timeout else None)

    def config(self) -> m.ClientConfig:
        """``GET /config``."""
        return self.call("GET", "/config", m.ClientConfig, auth=False, idempotent=True)

    def agreements(self) -> dict[str, str]:
        """``GET /agreements``: the 用户协议 and 隐私政策 texts (plain text, before login)."""
        data = self._json("GET", "/agreements", auth=False, idempotent=True)
        return {key: str(data.get(key, "")) for key in ("user_agreement", "privacy_policy")}

    def release(self, platform: str, current: str = zhishiyun.__version__) -> m.Release:
        """``GET /client/release?platform=&current=``."""
        return self.call("GET", RELEASE_PATH, m.Release, auth=False, idempotent=True,
                         params={"platform": platform, "current": current})

    def release_reply(self, platform: str, current: str = zhishiyun.__version__
                      ) -> dict[str, Any]:
        """``GET /client/release`` as JSON (the updater verifies it field by field itself)."""
        response = self.raw("GET", RELEASE_PATH, auth=False, idempotent=True,
                            params={"platform": platform, "current": current})
        data = _load_json(response.content)
        if not isinstance(data, dict):
            raise ApiError(response.status_code, "bad_reply", "release reply is not an object")
        return data

    def absolute_url(self, url: str) -> str:
        """``url`` from a reply (absolute, or relative to the server) made absolute."""
        return urljoin(self.base_url + "/", url)

    def speedtest(self, payload: bytes) -> m.SpeedResult:
        """``POST /speedtest`` with ``payload`` (≤ 8 MB)."""
        return self.call("POST", "/speedtest", m.SpeedResult, auth=False, data=payload,
                         headers={"Content-Type": "application/octet-stream"},
                         timeout=self.transport.deadline_for(len(payload)))

    # --- login and profile ------------------------------------------------------------

    def login_password(self, id_number: str, password: str) -> m.LoginResult:
        """``POST /auth/password``; the token is stored on success."""
        result = self.call("POST", "/auth/password", m.LoginResult, auth=False,
                           json={"id_number": id_number, "password": password})
        self.tokens.set(result.token)
        return result

    def store_login(self, result: m.LoginResult) -> None:
        """Keep the token of a login made elsewhere (e.g. face login)."""
        self.tokens.set(result.token)

    def logout(self) -> None:
        """``POST /auth/logout``; the local token is forgotten even if the call fails."""
        try:
            if self.token:
                self.raw("POST", "/auth/logout", idempotent=True)
        except ApiError as exc:
            log.info("logout: %s", exc.code)
        finally:
            self.tokens.clear()

    def me(self) -> m.Profile:
        """``GET /me``."""
        return self.call("GET", "/me", m.Profile, idempotent=True)

    def my_photo(self) -> bytes:
        """``GET /me/photo``: the enrolled ID photo (JPEG); ``no_photo`` when none."""
        return self.download(API + "/me/photo", max_bytes=10 * 1024 * 1024)

    def update_me(self, *, phone: str | None = None, email: str | None = None) -> m.Profile:
        """``PATCH /me`` (only the given fields change)."""
        body = {k: v for k, v in (("phone", phone), ("email", email)) if v is not None}
        return self.call("PATCH", "/me", m.Profile, idempotent=True, json=body)

    # --- exams ------------------------------------------------------------------------

    def exams(self) -> list[m.Exam]:
        """``GET /exams``: my exams."""
        return list(self.call("GET", "/exams", m.ExamList, idempotent=True).exams)

    def exam(self, exam_id: int) -> m.Exam:
        """``GET /exams/{id}``."""
        return self.call("GET", f"/exams/{int(exam_id)}", m.Exam, idempotent=True)

    def draw_lot(self, exam_id: int) -> m.LotteryResult:
        """``POST /exams/{id}/lottery`` (the server keeps the first number: safe to retry)."""
        return self.call("POST", f"/exams/{int(exam_id)}/lottery", m.LotteryResult,
                         idempotent=True)

    def accept(self, exam_id: int) -> m.AcceptResult:
        """``POST /exams/{id}/accept``."""
        return self.call("POST", f"/exams/{int(exam_id)}/accept", m.AcceptResult,
                         idempotent=True)

    def enter(self, exam_id: int, report: Mapping[str, Any] | None = None) -> m.ExamSession:
        """``POST /exams/{id}/sessions`` (entering again returns the same session).

        ``report``: the devices, environment and an identity frame the server checks
        (:meth:`zhishiyun.exam.environment.EntryReport.body`).
        """
        extra = {"json": dict(report)} if report is not None else {}
        return self.call("POST", f"/exams/{int(exam_id)}/sessions", m.ExamSession,
                         idempotent=True, **extra)

    def download(self, url: str, *, max_bytes: int | None = None, size: int = 0) -> bytes:
        """The bytes at a server-relative ``url`` from a reply (attachment, paper, photo).

        At most ``max_bytes`` (default: the transport's attachment cap); the deadline
        allows for ``size`` bytes at the slowest supported rate.
        """
        limit = self.transport.caps.attachment if max_bytes is None else max_bytes
        return self.raw("GET", self._file_url(url), idempotent=True, max_bytes=limit,
                        timeout=self.transport.deadline_for(size or limit // 16)).content

    def _file_url(self, url: str) -> str:
        if not isinstance(url, str) or not url.startswith(API + "/"):
            raise ApiError(0, "bad_reply", f"unexpected download path {url!r}")
        return self.base_url + url

    def save_attachment(self, attachment: m.Attachment, directory: Path,
                        progress: Callable[[int, int], None] | None = None) -> Path:
        """Stream ``attachment`` into ``directory`` under a safe file name.

        ``progress(done, total)`` is called on this thread after each chunk. The file
        appears only when complete (``<name>.part`` until then).
        """
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / safe_filename(attachment.filename, fallback=f"{attachment.id}")
        url, total = self._file_url(attachment.url), max(0, int(attachment.size or 0))
        token = self.token
        if not token:
            raise ApiError(401, "unauthorized", "no token stored")
        limit = self.transport.caps.attachment
        with self.transport.stream("GET", url, bearer=token,
                                   deadline=self.transport.deadline_for(total or limit // 16)
                                   ) as response:
            if not response.ok:
                response._content = self.transport.read_all(response, self.transport.caps.json)
                raise self._error(response, True)
            self.transport.save(response, target, limit, progress=(
                (lambda done: progress(done, max(total, done))) if progress else None))
        return target

    def save_instruction(self, instruction: m.Instruction, directory: Path) -> Path:
        """Download the exam's spoken instruction into ``directory``; its sha256 must match.

        The attachment downloader does the transfer; a file whose digest differs from the
        exam's is deleted and ``bad_reply`` raised. A file already there and intact is kept.
        """
        target = directory / safe_filename(instruction.filename, fallback="instruction")
        if target.is_file() and file_sha256(target) == instruction.sha256:
            return target
        as_attachment = m.Attachment(id=0, filename=instruction.filename,
                                     content_type=instruction.content_type,
                                     size=instruction.size, url=instruction.url)
        saved = self.save_attachment(as_attachment, directory)
        if file_sha256(saved) != instruction.sha256:
            saved.unlink(missing_ok=True)
            raise ApiError(0, "bad_reply", "the instruction's sha256 does not match")
        return saved

    # --- inside a session -------------------------------------------------------------

    def papers(self, session_id: str) -> m.PaperList:
        """``GET /sessions/{sid}/papers`` (403 ``not_started`` before the start time)."""
        return self.call("GET", f"/sessions/{_seg(session_id)}/papers", m.PaperList,
                         idempotent=True)

    def paper_content(self, paper: m.Paper) -> bytes:
        """The bytes of a PDF or image paper (text papers carry ``text`` inline)."""
        if paper.url is None:
            return (paper.text or "").encode("utf-8")
        return self.download(paper.url)

    def answers(self, session_id: str) -> list[m.AnswerResult]:
        """``GET /sessions/{sid}/answers``: what the server has stored."""
        response = self.raw("GET", f"/sessions/{_seg(session_id)}/answers", idempotent=True)
        return parse_list(response.content, m.AnswerResult)

    def put_answer(self, session_id: str, question_id: str, version: int,
                   content: str) -> m.AnswerResult:
        """``PUT /sessions/{sid}/answers/{qid}``; an older version → ``stale_version``."""
        return self.call("PUT", f"/sessions/{_seg(session_id)}/answers/{_seg(question_id)}",
                         m.AnswerResult, idempotent=True,
                         json={"version": int(version), "content": content})

    def post_events(self, session_id: str,
                    events: Iterable[Mapping[str, Any]]) -> m.EventsResult:
        """``POST /sessions/{sid}/events``: each event ``{id, kind, at, details}``."""
        body = {"events": [_event_json(e) for e in events]}
        return self.call("POST", f"/sessions/{_seg(session_id)}/events", m.EventsResult,
                         idempotent=True, json=body)

    def finish(self, session_id: str, reason: str,
               last_seq: Mapping[str, int] | None = None) -> m.FinishResult:
        """``POST /sessions/{sid}/finish`` (reason ``time_up`` or ``candidate_ended``).

        ``last_seq``: each track's last segment, so the server sees a tail that never came.
        """
        body: dict[str, Any] = {"reason": reason}
        if last_seq:
            body["last_seq"] = dict(last_seq)
        return self.call("POST", f"/sessions/{_seg(session_id)}/finish", m.FinishResult,
                         idempotent=True, json=body)

    def identity_wanted(self, session_id: str) -> bool:
        """``GET /sessions/{sid}/identity``: whether the server wants a camera frame now."""
        return self.call("GET", f"/sessions/{_seg(session_id)}/identity", m.IdentityPoll,
                         idempotent=True).frame_wanted

    def send_identity_frame(self, session_id: str, jpeg_b64: str) -> str:
        """``POST /sessions/{sid}/identity`` with one camera JPEG (base64); the result."""
        return self.call("POST", f"/sessions/{_seg(session_id)}/identity", m.IdentityResult,
                         json={"frame_jpeg": jpeg_b64}).result

    def post_manifest(self, session_id: str, lines: Iterable[str]) -> m.ManifestResult:
        """``POST /sessions/{sid}/manifest`` with exact ``manifest.jsonl`` lines (idempotent)."""
        return self.call("POST", f"/sessions/{_seg(session_id)}/manifest", m.ManifestResult,
                         idempotent=True, json={"lines": [str(line) for line in lines]})

    def recordings(self, session_id: str) -> m.Recordings:
        """``GET /sessions/{sid}/recordings``: what the server received, per track."""
        return self.call("GET", f"/sessions/{_seg(session_id)}/recordings", m.Recordings,
                         idempotent=True)

    # --- 求助 (help requests of a session) ---------------------------------------------

    def send_help(self, session_id: str, text: str) -> dict[str, Any]:
        """``POST /sessions/{sid}/help``: a help request to the organisation."""
        return self._json("POST", f"/sessions/{_seg(session_id)}/help", json={"text": text})

    def help_requests(self, session_id: str) -> list[dict[str, Any]]:
        """``GET /sessions/{sid}/help``: this session's requests with the staff's replies."""
        data = self._json("GET", f"/sessions/{_seg(session_id)}/help", idempotent=True)
        requests = data.get("requests", [])
        return [r for r in requests if isinstance(r, dict)] if isinstance(requests, list) \
            else []

    # --- messages ---------------------------------------------------------------------

    def messages(self) -> m.MessageList:
        """``GET /messages``."""
        return self.call("GET", "/messages", m.MessageList, idempotent=True)

    def read_message(self, message_id: int) -> None:
        """``POST /messages/{id}/read``."""
        self.call("POST", f"/messages/{int(message_id)}/read", m.Ok, idempotent=True)


# --- helpers ------------------------------------------------------------------------


def _event_json(event: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(event)
    at = out.get("at")
    if hasattr(at, "isoformat"):
        out["at"] = at.isoformat()
    return out
