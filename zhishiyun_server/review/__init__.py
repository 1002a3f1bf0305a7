"""The review console under ``/review/`` and the 求助 API: ``install(app)``.

Staff log in with accounts made by ``zhishiyun-server admin add-staff``; pages are rendered
here (no front-end build), with small scripts in ``static/``. See docs/review.md.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Mount the console, its static files and the candidates' help API on ``app``."""
    from zhishiyun_server.help import routes as help_routes
    from zhishiyun_server.review import actions, pages, session_page
    from zhishiyun_server.review.auth import LoginRequired

    app.include_router(help_routes.router, prefix="/api/v1")
    for module in (pages, session_page, actions):
        app.include_router(module.router)
    app.mount("/review/static", StaticFiles(directory=STATIC), name="review-static")
    app.add_exception_handler(LoginRequired, pages.not_logged_in)
