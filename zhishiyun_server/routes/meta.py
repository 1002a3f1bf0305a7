"""Calls without login: health, time, config, client release, speed test."""

from __future__ import annotations

import dataclasses
import time

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

import zhishiyun_server
from zhishiyun_formats.settings import CheckThresholds, RecordingSettings
from zhishiyun_server import clock
from zhishiyun_server.deps import get_db
from zhishiyun_server.errors import ApiProblem
from zhishiyun_server.face.engine import engine_available as face_engine_available
from zhishiyun_server.integrity import settings as integrity_settings
from zhishiyun_server.models import Organisation, Release
from zhishiyun_server.organisation import organisation
from zhishiyun_server.schemas import (
    ClientConfig,
    Health,
    ReleaseInfo,
    ServerTime,
    SpeedResult,
    Support,
    UploadLimits,
)

router = APIRouter(tags=["meta"])
SPEEDTEST_MAX_BYTES = 8 * 1024 * 1024


def _merged(defaults, overrides: dict) -> dict:
    values = dataclasses.asdict(defaults)
    for key, value in (overrides or {}).items():
        if key in values:
            values[key] = value
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def recording_settings(org: Organisation) -> dict:
    """Every RecordingSettings field: the client defaults overridden by the organisation."""
    return _merged(RecordingSettings(), org.recording)


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Reachability and version."""
    return Health(status="ok", version=zhishiyun_server.__version__)


@router.get("/time", response_model=ServerTime)
async def server_time() -> ServerTime:
    """The server's clock (for NTP-style offset measurement: keep it cheap)."""
    now = clock.now()
    return ServerTime(server_time_ms=int(now.timestamp() * 1000), server_time=now)


@router.get("/config", response_model=ClientConfig)
def client_config(db: Session = Depends(get_db)) -> ClientConfig:
    """Organisation, support contacts, login methods, thresholds and recording settings."""
    org = organisation(db)
    return ClientConfig(
        org_name=org.name,
        support=Support(phone=org.support_phone, qq=org.support_qq, email=org.support_email,
                        hours=org.support_hours),
        password_login=org.password_login,
        face_login=org.face_login and face_engine_available(),
        ntp_servers=list(org.ntp_servers or []),
        checks=_merged(CheckThresholds(), org.checks),
        recording=recording_settings(org),
        upload=UploadLimits(max_upload_bytes=org.max_upload_bytes,
                            max_session_bytes=org.max_session_bytes),
        local_retention_days=7.0 if org.local_retention_days is None
        else org.local_retention_days,
        **integrity_settings.client_config(db),
    )


def _version_tuple(text: str) -> tuple:
    parts = []
    for piece in text.strip().lstrip("v").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


@router.get("/client/release", response_model=ReleaseInfo)
def client_release(
    platform: str = Query(min_length=1, max_length=32),
    current: str = Query(default="", max_length=32),
    db: Session = Depends(get_db),
) -> ReleaseInfo:
    """The newest release for ``platform`` and whether ``current`` must or may update."""
    release = db.scalar(select(Release).where(Release.platform == platform)
                        .order_by(Release.published_at.desc(), Release.id.desc()).limit(1))
    if release is None:
        raise ApiProblem(404, "no_release", f"No client release is published for {platform}.")
    mine = _version_tuple(current) if current else None
    return ReleaseInfo(
        platform=release.platform, latest=release.version, minimum=release.minimum_version,
        url=release.url, size=release.size, sha256=release.sha256, notes=release.notes,
        published_at=release.published_at, manifest=release.manifest,
        signature=release.signature,
        update_available=mine is not None and mine < _version_tuple(release.version),
        update_required=mine is not None and mine < _version_tuple(release.minimum_version),
    )


@router.post("/speedtest", response_model=SpeedResult)
async def speedtest(request: Request) -> SpeedResult:
    """Read up to 8 MB of upload and say how long it took (bandwidth check)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > SPEEDTEST_MAX_BYTES:
        raise ApiProblem(413, "too_large", "Speed test bodies are limited to 8 MB.")
    started, total = time.perf_counter(), 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > SPEEDTEST_MAX_BYTES:
            raise ApiProblem(413, "too_large", "Speed test bodies are limited to 8 MB.")
    return SpeedResult(bytes=total, seconds=round(time.perf_counter() - started, 6))
