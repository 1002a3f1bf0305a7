"""The organisation's integrity settings, and one exam's changes to them.

Built-in defaults are :class:`zhishiyun_formats.settings.IntegritySettings` (shared with
the client) plus the server-only ``identity_at_entry`` (``report``, ``refuse`` or ``off``).
The organisation's overrides live in ``integrity_settings`` scope ``org``; an exam's in
scope ``exam:<id>`` and win over the organisation's. ``GET /config`` shows them as
:class:`zhishiyun_server.schemas.IntegrityConfig`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from zhishiyun_formats.settings import IntegritySettings, merge_from_server
from zhishiyun_server.integrity.models import IntegrityOverrides
from zhishiyun_server.schemas import IntegrityConfig

IDENTITY_AT_ENTRY = ("report", "refuse", "off")
SERVER_DEFAULTS: dict[str, Any] = {"identity_at_entry": "report"}
_DEFAULTS = IntegritySettings()


def _scope(exam_id: int | None) -> str:
    return "org" if exam_id is None else f"exam:{int(exam_id)}"


def overrides(db: Session, exam_id: int | None = None) -> dict[str, Any]:
    """The stored changes of the organisation (``exam_id`` None) or of one exam."""
    row = db.get(IntegrityOverrides, _scope(exam_id))
    return dict(row.values) if row is not None else {}


def settings_for(db: Session, exam_id: int | None = None) -> dict[str, Any]:
    """Effective settings: defaults < organisation < exam (when ``exam_id`` is given)."""
    merged = {**dataclasses.asdict(_DEFAULTS), **SERVER_DEFAULTS}
    layers = [overrides(db)] + ([overrides(db, exam_id)] if exam_id is not None else [])
    for layer in layers:
        client_part = merge_from_server(IntegritySettings(**{
            k: merged[k] for k in dataclasses.asdict(_DEFAULTS)}), layer)
        merged.update(dataclasses.asdict(client_part))
        if layer.get("identity_at_entry") in IDENTITY_AT_ENTRY:
            merged["identity_at_entry"] = layer["identity_at_entry"]
    return {k: list(v) if isinstance(v, tuple) else v for k, v in merged.items()}


def client_config(db: Session) -> dict[str, Any]:
    """The organisation's settings as ``GET /config`` shows them."""
    values = settings_for(db)
    return {k: values[k] for k in IntegrityConfig.model_fields}


def demo_defaults(db: Session) -> None:
    """The demo organisation: stand-ins allowed, the environment reported but not blocking.

    A demo runs on machines without a camera, in virtual machines and over SSH (tests, CI,
    a first try); an organisation's own server keeps the defaults. A database still below
    revision ``0008_integrity`` (an upgrade test seeding the old schema) has no table for
    it yet; then nothing is written.
    """
    if inspect(db.get_bind()).has_table(IntegrityOverrides.__tablename__):
        change(db, stand_in_devices=True, blocking_environment=[])


def change(db: Session, exam_id: int | None = None, **values: Any) -> dict[str, Any]:
    """Store changes for the organisation or one exam (the caller commits)."""
    row = db.get(IntegrityOverrides, _scope(exam_id))
    if row is None:
        row = IntegrityOverrides(scope=_scope(exam_id), values={})
        db.add(row)
    row.values = {**(row.values or {}), **{k: list(v) if isinstance(v, tuple) else v
                                           for k, v in values.items()}}
    db.flush()
    return settings_for(db, exam_id)
