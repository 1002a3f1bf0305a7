"""Release manifests without a server: what is trusted, what is refused, the hand-off."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zhishiyun.update import ReleaseManifest, UpdateError, load_public_key, verify_manifest
from zhishiyun.update.handoff import hand_off, installer_command
from zhishiyun.update.release import UpdateKind

SHA = "ab" * 32


def signed_reply(key, **changes):
    fields = {"platform": "windows", "version": "0.2.0", "minimum_version": "0.1.0",
              "url": "https://dl.example.cn/ZhishiyunSetup-0.2.0.exe", "size": 1234,
              "sha256": SHA, **changes}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    signature = base64.b64encode(key.sign(text.encode())).decode()
    # the unsigned copies beside the manifest, as the server sends them
    return {"platform": fields["platform"], "latest": fields["version"],
            "minimum": fields["minimum_version"], "url": fields["url"], "size": fields["size"],
            "sha256": fields["sha256"], "notes": "新版本", "manifest": text,
            "signature": signature}


def test_the_shipped_public_key_is_an_ed25519_key():
    key = load_public_key()
    other = Ed25519PrivateKey.generate()
    manifest = ReleaseManifest.from_reply(signed_reply(other))
    with pytest.raises(UpdateError) as caught:
        verify_manifest(manifest, key)  # nobody but the key holder can sign for it
    assert caught.value.code == "bad_signature"


def test_only_the_signed_manifest_is_trusted_not_the_fields_beside_it():
    key = Ed25519PrivateKey.generate()
    reply = signed_reply(key)
    reply.update(url="https://evil.example/x.exe", sha256="cd" * 32, size=1, latest="99.0")
    manifest = ReleaseManifest.from_reply(reply)
    verify_manifest(manifest, key.public_key())
    assert (manifest.url, manifest.sha256, manifest.size, manifest.version) == (
        "https://dl.example.cn/ZhishiyunSetup-0.2.0.exe", SHA, 1234, "0.2.0")
    assert manifest.notes == "新版本"


def test_an_edited_manifest_text_fails_the_signature():
    key = Ed25519PrivateKey.generate()
    reply = signed_reply(key)
    reply["manifest"] = reply["manifest"].replace('"size":1234', '"size":1235')
    with pytest.raises(UpdateError) as caught:
        verify_manifest(ReleaseManifest.from_reply(reply), key.public_key())
    assert caught.value.code == "bad_signature"


@pytest.mark.parametrize("damage", [
    lambda r: r.pop("manifest"),
    lambda r: r.update(manifest="{not json"),
    lambda r: r.update(manifest="[1, 2]"),
    lambda r: r.update(signature=""),
    lambda r: r.update(manifest=json.dumps({**json.loads(r["manifest"]), "size": "big"})),
    lambda r: r.update(manifest=json.dumps({**json.loads(r["manifest"]), "sha256": "xyz"})),
    lambda r: r.update(manifest=json.dumps({**json.loads(r["manifest"]), "version": "new!"})),
    lambda r: r.update(manifest=json.dumps({k: v for k, v in json.loads(r["manifest"]).items()
                                            if k != "url"})),
], ids=["no-manifest", "not-json", "not-object", "no-signature", "size", "sha", "version",
        "no-url"])
def test_malformed_replies_are_a_clear_bad_reply(damage):
    reply = signed_reply(Ed25519PrivateKey.generate())
    damage(reply)
    with pytest.raises(UpdateError) as caught:
        ReleaseManifest.from_reply(reply)
    assert caught.value.code == "bad_reply"
    assert "installed version" in caught.value.one_line()


def test_update_kind_follows_pep440_ordering():
    manifest = ReleaseManifest.from_reply(signed_reply(Ed25519PrivateKey.generate(),
                                                       version="0.10.0", minimum_version="0.9.0"))
    assert manifest.kind_for("0.8.5") is UpdateKind.MANDATORY
    assert manifest.kind_for("0.9.0") is UpdateKind.OPTIONAL  # 0.9 < 0.10, not a string compare
    assert manifest.kind_for("0.10.0") is UpdateKind.NONE
    assert manifest.kind_for("0.11.0rc1") is UpdateKind.NONE


def test_damaged_public_key_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "update_ed25519.pub"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(UpdateError) as caught:
        load_public_key(bad)
    assert caught.value.code == "no_update_key"
    raw = tmp_path / "raw.pub"
    raw.write_text(base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
                   .decode())
    load_public_key(raw)  # base64 of the raw 32 bytes, as `admin generate-release-key` prints


def test_silent_install_commands(tmp_path):
    exe = tmp_path / "ZhishiyunSetup-0.2.0.exe"
    assert installer_command(exe, "windows") == [str(exe), "/S", "/UPDATE"]
    pkg = tmp_path / 'odd "name".pkg'
    mac = installer_command(pkg, "macos")
    assert mac[:2] == ["/usr/bin/osascript", "-e"]
    assert "/usr/sbin/installer -pkg" in mac[2] and '\\"name\\"' in mac[2]
    assert "with administrator privileges" in mac[2]
    assert mac[3:] == ["-e", 'do shell script "/usr/bin/open -n /Applications/Zhishiyun.app"']


def test_an_installer_that_cannot_start_is_a_clear_error(tmp_path):
    def broken(command):
        raise PermissionError("denied")

    target = tmp_path / "setup.run"
    target.write_text("#!/bin/sh\n")
    with pytest.raises(UpdateError) as caught:
        hand_off(target, "linux", broken)
    assert caught.value.code == "handoff_failed"


def test_an_unfinished_exam_on_disk_blocks_updates(tmp_path):
    from zhishiyun.active_session import ActiveSession, clear_active, save_active
    from zhishiyun.config import load_settings
    from zhishiyun.update import UpdateKind, UpdateOffer, Updater

    settings = load_settings({"server_url": "http://127.0.0.1:9", "data_dir": str(tmp_path)})
    key = Ed25519PrivateKey.generate()
    manifest = ReleaseManifest.from_reply(signed_reply(key, platform="linux",
                                                       url="http://127.0.0.1:9/s.run"))
    offer = UpdateOffer(UpdateKind.OPTIONAL, "0.1.0", manifest)
    updater = Updater.from_settings(settings, public_key=key.public_key(), platform="linux")
    save_active(tmp_path, ActiveSession(server_url="http://127.0.0.1:9", exam_id=1,
                                        exam_name="笔试", kind="written", session_id="s1",
                                        session_dir=str(tmp_path / "sessions" / "s1")))
    with pytest.raises(UpdateError) as caught:
        updater.download(offer)
    assert caught.value.code == "exam_in_progress"
    clear_active(tmp_path)
    with pytest.raises(UpdateError) as caught:  # now it gets as far as the network
        updater.download(offer)
    assert caught.value.code == "download_failed"


def _dated(key, issued: str, expires: str) -> ReleaseManifest:
    return ReleaseManifest.from_reply(signed_reply(key, issued_at=issued, expires_at=expires))


def test_an_expired_or_undated_manifest_is_refused():
    from datetime import datetime, timezone

    from zhishiyun.update import check_fresh

    key = Ed25519PrivateKey.generate()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    fresh = _dated(key, "2026-11-30T12:00:00Z", "2026-12-30T12:00:00Z")
    check_fresh(fresh, now=now)  # no error
    expired = _dated(key, "2026-10-01T12:00:00Z", "2026-11-01T12:00:00Z")
    for manifest in (expired, ReleaseManifest.from_reply(signed_reply(key))):
        with pytest.raises(UpdateError) as caught:
            check_fresh(manifest, now=now)
        assert caught.value.code == "stale_manifest"
    with pytest.raises(UpdateError) as caught:  # older than one already accepted
        check_fresh(fresh, now=now, newest_seen=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert caught.value.code == "stale_manifest"


def test_a_manifest_date_that_is_not_a_time_is_a_bad_reply():
    key = Ed25519PrivateKey.generate()
    with pytest.raises(UpdateError) as caught:
        _dated(key, "yesterday", "2026-12-30T12:00:00Z")
    assert caught.value.code == "bad_reply"
