# ruff: noqa: E501 - the texts are one line per clause
"""``GET /api/v1/agreements``: the texts behind 用户协议 and 隐私政策 on the login page.

Read before login. An organisation replaces the built-in texts by putting
``user_agreement.md`` and ``privacy_policy.md`` (UTF-8 plain text) into the directory named
by ``ZHISHIYUN_SERVER_AGREEMENTS_DIR``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhishiyun_server.deps import get_db
from zhishiyun_server.models import Organisation

router = APIRouter(tags=["meta"])
MAX_TEXT_BYTES = 200_000

# Plain text the client shows as it is: one line per clause.
USER_AGREEMENT = """{org} 智试云在线考试用户协议

1. 本软件用于 {org} 组织的在线考试与面试。使用本软件即表示你同意按考试规则参加考试。
2. 考试期间，软件录制你的屏幕、摄像头画面和麦克风声音，并实时上传至考试服务器，供考务人员审核。
3. 请勿在考试期间运行与考试无关的程序，请勿让他人代考或协助作答。违反考试规则的，{org} 可依规定认定成绩无效。
4. 录像未上传完成前，请保持软件打开并连接网络；如有问题，请拨打服务电话。
"""

PRIVACY_POLICY = """{org} 智试云隐私政策

1. 我们收集：姓名、身份证号、登录时的人脸图像、考试期间的屏幕录像、摄像头录像、声音，以及电脑的检测结果（网络、设备、时间）。
2. 用途：仅用于核验身份、组织考试和审核考试过程，不用于其他目的。
3. 保存：录像和图像按 {org} 的规定期限保存，期满删除；人脸登录的图像默认不保存。
4. 传输：所有数据经加密连接（TLS）传输至 {org} 的考试服务器。
5. 你的权利：你可以向 {org} 查询、更正你的个人信息，或咨询服务电话。
"""


class Agreements(BaseModel):
    """The two texts the candidate agrees to before logging in (plain text)."""

    user_agreement: str
    privacy_policy: str


def _text(folder: str, name: str, default: str, org: str) -> str:
    if folder:
        path = Path(folder) / name
        try:
            if path.is_file() and path.stat().st_size <= MAX_TEXT_BYTES:
                return path.read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            pass  # the built-in text, rather than no text at all
    return default.format(org=org or "考试组织方")


@router.get("/agreements", response_model=Agreements)
def agreements(request: Request, db: Session = Depends(get_db)) -> Agreements:
    """用户协议 and 隐私政策 of this organisation."""
    folder = request.app.state.config.agreements_dir
    org = db.scalar(select(Organisation).limit(1))
    name = org.name if org is not None else ""
    return Agreements(user_agreement=_text(folder, "user_agreement.md", USER_AGREEMENT, name),
                      privacy_policy=_text(folder, "privacy_policy.md", PRIVACY_POLICY, name))
