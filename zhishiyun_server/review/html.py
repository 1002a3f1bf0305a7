"""Server-rendered pages: escaping, the page frame and its security headers."""

from __future__ import annotations

import html
import json
from datetime import datetime, timedelta, timezone

from fastapi import Request
from fastapi.responses import HTMLResponse

from zhishiyun_server.review.i18n import LANG_COOKIE, LANGUAGES, t

#: Only our own scripts, styles and media; no inline script, no framing, forms to us only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-store"}
BEIJING = timezone(timedelta(hours=8))


def h(value: object) -> str:
    """HTML-escaped text of ``value`` ('' for None)."""
    return "" if value is None else html.escape(str(value), quote=True)


def when(value: datetime | None) -> str:
    """A time as Beijing wall-clock text (exam staff work in +08:00)."""
    if value is None:
        return ""
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def data_block(element_id: str, data: object) -> str:
    """A JSON data island for the page's script (not executed; ``</`` cannot end it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{h(element_id)}">{text}</script>'


def page(request: Request, lang: str, title: str, body: str, *, csrf: str = "",
         scripts: tuple[str, ...] = (), status: int = 200) -> HTMLResponse:
    """The whole HTML page around ``body`` with the console's headers."""
    other = "en" if lang == "zh" else "zh"
    nav = ""
    if csrf:
        nav = (f'<nav><a href="/review/exams">{h(t(lang, "exams"))}</a>'
               f'<a class="lang" href="?lang={other}">{"English" if other == "en" else "中文"}'
               f'</a><form method="post" action="/review/logout">'
               f'<input type="hidden" name="csrf" value="{h(csrf)}">'
               f'<button type="submit">{h(t(lang, "logout"))}</button></form></nav>')
    tags = "".join(f'<script src="/review/static/{h(s)}" defer></script>' for s in scripts)
    csrf_meta = f'<meta name="csrf-token" content="{h(csrf)}">' if csrf else ""
    text = (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
            f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f'{csrf_meta}<title>{h(title)} · {h(t(lang, "console"))}</title>'
            f'<link rel="stylesheet" href="/review/static/console.css">{tags}</head>'
            f'<body><header><span class="brand">{h(t(lang, "console"))}</span>{nav}</header>'
            f'<main>{body}</main></body></html>')
    response = HTMLResponse(text, status_code=status, headers=SECURITY_HEADERS)
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, path="/review/",
                            samesite="strict", httponly=True)
    return response
