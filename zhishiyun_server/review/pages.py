"""Console pages: login, logout, the exam list, the live wall, the audit log (admins)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server.deps import get_db
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.models import Exam
from zhishiyun_server.review import auth
from zhishiyun_server.review.auth import DbId, Staff, data_staff, page_staff
from zhishiyun_server.review.html import SECURITY_HEADERS, data_block, h, page, when
from zhishiyun_server.review.i18n import choose, t
from zhishiyun_server.review.models import AuditEntry
from zhishiyun_server.review.queries import exam_rows, wall_tiles

router = APIRouter(prefix="/review", include_in_schema=False)


def _login_page(request: Request, message: str = "", status: int = 200) -> Response:
    lang = choose(request)
    nonce = secrets.token_urlsafe(24)
    error = f'<p class="error" role="alert">{h(message)}</p>' if message else ""
    body = (f'<form class="login" method="post" action="/review/login">'
            f'<h1>{h(t(lang, "console"))}</h1>{error}'
            f'<input type="hidden" name="csrf" value="{h(nonce)}">'
            f'<label>{h(t(lang, "staff_name"))}<input name="name" autocomplete="username" '
            f'required maxlength="100"></label>'
            f'<label>{h(t(lang, "password"))}<input name="password" type="password" '
            f'autocomplete="current-password" required maxlength="200"></label>'
            f'<button type="submit">{h(t(lang, "login"))}</button></form>')
    response = page(request, lang, t(lang, "login"), body, status=status)
    auth.set_cookie(request, response, auth.LOGIN_COOKIE, nonce, max_age=3600)
    return response


@router.get("/")
def home(request: Request, db: Session = Depends(get_db)) -> Response:
    """The exam list when logged in, else the login form."""
    if auth.find_staff(request, db) is not None:
        return RedirectResponse("/review/exams", status_code=302)
    return _login_page(request)


@router.post("/login")
def login(request: Request, name: str = Form("", max_length=100),
          password: str = Form("", max_length=200), csrf: str = Form("", max_length=100),
          db: Session = Depends(get_db)) -> Response:
    """Check the account and password; a session cookie and the exam list on success."""
    lang = choose(request)
    expected = request.cookies.get(auth.LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        return _login_page(request, t(lang, "form_expired"), status=403)
    name = name.strip()
    try:
        token = auth.try_login(request, db, name, password)
    except ApiProblem as exc:
        wait = int(exc.extra.get("retry_after") or exc.headers.get("Retry-After") or 60)
        response = _login_page(request, t(lang, "login_limited", seconds=wait), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    if token is None:
        return _login_page(request, t(lang, "login_failed"), status=401)
    response = RedirectResponse("/review/exams", status_code=303)
    auth.set_cookie(request, response, auth.COOKIE, token,
                    max_age=int(auth.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(auth.LOGIN_COOKIE, path="/review/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("", max_length=100),
           staff: Staff = Depends(page_staff), db: Session = Depends(get_db)) -> Response:
    """End the login and go back to the login form."""
    auth.check_csrf(staff, csrf)
    auth.logout(request, db, staff)
    response = RedirectResponse("/review/", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/review/")
    return response


@router.get("/exams")
def exams(request: Request, staff: Staff = Depends(page_staff),
          db: Session = Depends(get_db)) -> Response:
    """Every exam with its counts, each linking to its live wall."""
    lang = choose(request)
    heads = "".join(f"<th>{h(t(lang, k))}</th>" for k in (
        "exam", "kind", "starts", "enrolled", "entered", "in_progress", "finished", "flagged"))
    rows = []
    for row in exam_rows(db):
        exam = row["exam"]
        flagged = row["flagged"]
        rows.append(
            f'<tr data-exam="{exam.id}"><td><a href="/review/exams/{exam.id}/wall">'
            f'{h(exam.name)}</a></td><td>{h(t(lang, exam.kind))}</td>'
            f'<td>{h(when(exam.starts_at))}</td>'
            + "".join(f'<td class="num" data-count="{k}">{row[k]}</td>'
                      for k in ("enrolled", "entered", "in_progress", "finished"))
            + f'<td class="num{" flag" if flagged else ""}" data-count="flagged">{flagged}</td>'
            f'</tr>')
    body = (f'<h1>{h(t(lang, "exams"))}</h1><table class="exams"><thead><tr>{heads}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')
    return page(request, lang, t(lang, "exams"), body, csrf=staff.csrf)


@router.get("/exams/{exam_id}/wall")
def wall(exam_id: DbId, request: Request, staff: Staff = Depends(page_staff),
         db: Session = Depends(get_db)) -> Response:
    """The live wall: a tile per candidate, refreshed by ``wall.js``."""
    lang = choose(request)
    exam = db.get(Exam, exam_id)
    if exam is None:
        return page(request, lang, t(lang, "not_found"),
                    f'<p>{h(t(lang, "not_found"))}</p>', csrf=staff.csrf, status=404)
    words = {k: t(lang, k) for k in ("online", "offline", "no_picture", "no_sessions",
                                     "last_contact", "finished", "severity_warning",
                                     "severity_critical")}
    words["backlog"] = t(lang, "backlog", count="{count}")
    body = (f'<h1>{h(exam.name)} · {h(t(lang, "live_wall"))}</h1>'
            f'<div id="wall" class="wall" aria-live="polite"></div>'
            + data_block("wall-data", {"url": f"/review/exams/{exam.id}/wall.json",
                                       "words": words, "lang": lang}))
    return page(request, lang, t(lang, "live_wall"), body, csrf=staff.csrf,
                scripts=("wall.js",))


@router.get("/exams/{exam_id}/wall.json")
def wall_data(exam_id: DbId, staff: Staff = Depends(data_staff),
              db: Session = Depends(get_db)) -> JSONResponse:
    """The wall's tiles as JSON (polled every few seconds)."""
    if db.get(Exam, exam_id) is None:
        return JSONResponse({"error": {"code": "not_found", "message": "No such exam."}},
                            status_code=404)
    return JSONResponse({"tiles": wall_tiles(db, exam_id)},
                        headers={"Cache-Control": "no-store"})


@router.get("/audit")
def audit_page(request: Request, staff: Staff = Depends(page_staff),
               db: Session = Depends(get_db)) -> Response:
    """The newest 500 audit entries (admins only)."""
    lang = choose(request)
    if staff.account.role != "admin":
        return page(request, lang, t(lang, "forbidden"), f'<p>{h(t(lang, "forbidden"))}</p>',
                    csrf=staff.csrf, status=403)
    rows = "".join(
        f"<tr><td>{h(when(e.at))}</td><td>{h(e.staff_name)}</td><td>{h(e.action)}</td>"
        f"<td>{h(e.target)}</td><td>{h(e.address)}</td></tr>"
        for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500)))
    body = f'<h1>Audit</h1><table class="audit"><tbody>{rows}</tbody></table>'
    return page(request, lang, "Audit", body, csrf=staff.csrf)


def not_logged_in(request: Request, _exc: Exception) -> Response:
    """A console page without a login: back to the login form (302)."""
    return RedirectResponse("/review/", status_code=302, headers=SECURITY_HEADERS)
