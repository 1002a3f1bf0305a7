"""``zhishiyun-server admin face-login on|off``, ``face-reviews``, ``face-review ID …``.

Staff look at the photo a candidate sent (``--save-photo FILE``) and decide; an approved
review hands the candidate a login token on their next poll. Registered by
:func:`zhishiyun_server.admin.add_commands` through :func:`add_commands`.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.auth.routes import mask_id_number
from zhishiyun_server.errors import AdminError
from zhishiyun_server.face.models import FaceAttempt, FaceReview
from zhishiyun_server.face.policy import FacePolicy
from zhishiyun_server.organisation import organisation
from zhishiyun_server.settings import ServerConfig


def add_commands(sub, register: Callable) -> None:
    """Add the face-review subcommands to the admin ``sub`` parsers."""
    p = sub.add_parser("face-reviews", help="list manual face reviews (pending by default)")
    p.add_argument("--all", action="store_true", help="also decided ones")
    p = sub.add_parser("face-review", help="approve or reject a manual face review")
    p.add_argument("review_id", type=int)
    p.add_argument("decision", choices=("approve", "reject", "show"))
    p.add_argument("--note", default="", help="reason shown to the candidate")
    p.add_argument("--by", default="", help="staff name (default: the system user)")
    p.add_argument("--save-photo", type=Path, metavar="FILE", help="write the photo to FILE")
    p = sub.add_parser("face-login", help="allow or forbid face login (needs the face engine)")
    p.add_argument("state", choices=("on", "off"))
    register("face-reviews")(_list)
    register("face-review")(_decide)
    register("face-login")(_face_login)


def _face_login(db: Session, args: argparse.Namespace) -> None:
    from zhishiyun_server.face.engine import engine_available

    organisation(db, commit=False).face_login = args.state == "on"
    note = "" if engine_available() or args.state == "off" else (
        " (but dlib / face-recognition-models are not installed: clients will not offer it)")
    print(f"face login {args.state}{note}")


def _list(db: Session, args: argparse.Namespace) -> None:
    query = select(FaceReview).order_by(FaceReview.submitted_at)
    if not args.all:
        query = query.where(FaceReview.status == "pending")
    for review in db.scalars(query):
        print(f"{review.id}\t{review.status}\t{review.submitted_at.isoformat()}\t"
              f"{review.candidate.name}\t{mask_id_number(review.candidate.id_number)}")


def _decide(db: Session, args: argparse.Namespace) -> None:
    review = db.get(FaceReview, args.review_id)
    if review is None:
        raise AdminError(f"no face review {args.review_id}")
    if args.save_photo:
        if review.photo_jpeg is None:
            raise AdminError(f"review {review.id}: the photo is no longer kept")
        args.save_photo.write_bytes(review.photo_jpeg)
        print(f"wrote {args.save_photo}")
    if args.decision == "show":
        print(f"{review.id}\t{review.status}\t{review.candidate.name}\t{review.note}")
        return
    if review.status != "pending":
        raise AdminError(f"review {review.id} is already {review.status}")
    review.status = "approved" if args.decision == "approve" else "rejected"
    review.decided_at = clock.now()
    review.decided_by = args.by or getpass.getuser()
    review.note = args.note
    if FacePolicy.from_config(ServerConfig.from_env()).retention_days <= 0:
        review.photo_jpeg = None  # decided: keep no image beyond the retention setting
    db.add(FaceAttempt(candidate_id=review.candidate_id, outcome=f"review_{review.status}"[:16],
                       code="manual_review"))
    print(f"review {review.id} {review.status}")
