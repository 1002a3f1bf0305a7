"""Auto-update against the real reference server, its admin command and a real download host.

The "installer" is a shell script (the Linux hand-off runs it with ``--silent``) that changes
a stand-in install directory, so a test sees whether anything was installed.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

import pytest

from tests.update.conftest import publish, write_private_key
from zhishiyun.update import UpdateError, UpdateKind, Updater

INSTALLED = "0.1.0\n"
pytestmark = pytest.mark.integration


@pytest.fixture
def install_dir(tmp_path):
    """The running client's installation (what a refused update must leave alone)."""
    path = tmp_path / "installed"
    path.mkdir()
    (path / "VERSION").write_text(INSTALLED)
    return path


def make_installer(path: Path, install_dir: Path, marker: Path, size_kb: int = 900) -> Path:
    """A runnable installer script padded to ``size_kb`` (several download chunks)."""
    head = (f'#!/bin/sh\necho "0.2.0" > "{install_dir}/VERSION"\necho "$@" > "{marker}"\n'
            "exit 0\n")
    padding = base64.encodebytes(os.urandom(size_kb * 768)).decode("ascii")
    path.write_text(head + padding)
    return path


def updater(server, public_key, tmp_path, *, current="0.1.0", exam=False, calls=None):
    launcher = None
    if calls is not None:
        def launcher(command):
            calls.append(command)
    return Updater(server.url, download_dir=tmp_path / "updates",
                   exam_in_progress=lambda: exam, public_key=public_key,
                   current_version=current, platform="linux", launcher=launcher)


def wait_for(path: Path, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def published(release_server, file_server, org_key, install_dir, tmp_path, request):
    """Release 0.2.0 (minimum 0.1.0) for linux, published now, served by the download host."""
    key_file, public_key = org_key
    marker = tmp_path / "installer-ran"
    setup = make_installer(file_server.root / f"setup-{request.node.name}.run", install_dir,
                           marker)
    publish(release_server, file=setup, url=f"{file_server.url}/{setup.name}", key=key_file,
            version="0.2.0", minimum="0.1.0")
    return release_server, public_key, setup, marker


def test_good_release_is_verified_and_installed_silently(published, install_dir, tmp_path):
    server, public_key, setup, marker = published
    client = updater(server, public_key, tmp_path)
    offer = client.check()
    assert offer.kind is UpdateKind.OPTIONAL and offer.version == "0.2.0"
    result = client.download(offer)
    assert result.path.read_bytes() == setup.read_bytes()
    command = client.install(offer, result)  # real detached process, like the real hand-off
    assert command[-1] == "--silent"
    assert wait_for(marker), "the verified installer was not started"
    assert marker.read_text().strip() == "--silent"
    assert (install_dir / "VERSION").read_text().strip() == "0.2.0"


def test_below_the_minimum_the_update_is_mandatory(release_server, file_server, org_key,
                                                   install_dir, tmp_path):
    server = release_server
    key_file, public_key = org_key
    setup = make_installer(file_server.root / "mandatory.run", install_dir, tmp_path / "m", 10)
    publish(server, file=setup, url=f"{file_server.url}/mandatory.run", key=key_file,
            version="0.3.0", minimum="0.2.0")
    assert updater(server, public_key, tmp_path, current="0.1.9").check().kind \
        is UpdateKind.MANDATORY
    assert updater(server, public_key, tmp_path, current="0.2.0").check().kind \
        is UpdateKind.OPTIONAL
    assert updater(server, public_key, tmp_path, current="0.3.0").check().kind is UpdateKind.NONE


def test_one_flipped_byte_is_refused_deleted_and_nothing_installed(published, install_dir,
                                                                   tmp_path):
    server, public_key, setup, marker = published
    data = bytearray(setup.read_bytes())
    data[len(data) // 2] ^= 0x01  # still a runnable script: only the checksum can tell
    setup.write_bytes(bytes(data))
    calls: list = []
    client = updater(server, public_key, tmp_path, calls=calls)
    offer = client.check()
    with pytest.raises(UpdateError) as caught:
        client.download(offer)
    assert caught.value.code == "bad_checksum"
    assert "tampered" in caught.value.message
    assert list((tmp_path / "updates").iterdir()) == []  # neither the file nor a .part kept
    assert calls == []
    assert (install_dir / "VERSION").read_text() == INSTALLED
    assert not marker.exists()


def test_manifest_signed_by_another_key_is_refused_before_any_download(
        release_server, file_server, org_key, install_dir, tmp_path):
    server = release_server
    _, org_public = org_key
    intruder = tmp_path / "intruder.pem"
    write_private_key(intruder)
    setup = make_installer(file_server.root / "evil.run", install_dir, tmp_path / "m", 10)
    publish(server, file=setup, url=f"{file_server.url}/evil.run", key=intruder,
            version="9.0.0", minimum="9.0.0")
    with pytest.raises(UpdateError) as caught:
        updater(server, org_public, tmp_path).check()
    assert caught.value.code == "bad_signature"
    assert file_server.requests_for("evil.run") == []
    assert (install_dir / "VERSION").read_text() == INSTALLED


def test_interrupted_download_resumes_with_range(published, file_server, tmp_path):
    server, public_key, setup, _ = published
    client = updater(server, public_key, tmp_path)
    offer = client.check()
    cancel = threading.Event()

    def stop_after_first_chunk(done, total):
        cancel.set()

    with pytest.raises(UpdateError) as caught:
        client.download(offer, cancel, stop_after_first_chunk)
    assert caught.value.code == "download_cancelled"
    part = client.target_path(offer.manifest).with_name(
        client.target_path(offer.manifest).name + ".part")
    kept = part.stat().st_size
    assert 0 < kept < offer.manifest.size

    result = client.download(offer)
    assert result.resumed_from == kept
    assert result.fetched == offer.manifest.size - kept
    assert result.path.read_bytes() == setup.read_bytes()
    assert not part.exists()
    statuses = [line.rsplit('" ', 1)[-1] for line in file_server.requests_for(setup.name)]
    assert statuses[0].startswith("200") and statuses[-1].startswith("206"), statuses


def test_truncated_file_on_the_host_is_refused_and_deleted(published, tmp_path):
    server, public_key, setup, _ = published
    setup.write_bytes(setup.read_bytes()[:-1000])
    client = updater(server, public_key, tmp_path)
    with pytest.raises(UpdateError) as caught:
        client.download(client.check())
    assert caught.value.code == "download_truncated"
    assert list((tmp_path / "updates").iterdir()) == []


def test_nothing_starts_during_an_exam(published, file_server, install_dir, tmp_path):
    server, public_key, setup, _ = published
    calls: list = []
    in_exam = updater(server, public_key, tmp_path, exam=True, calls=calls)
    offer = in_exam.check()  # telling the candidate is fine; starting is not
    with pytest.raises(UpdateError) as caught:
        in_exam.download(offer)
    assert caught.value.code == "exam_in_progress"
    assert file_server.requests_for(setup.name) == []

    result = updater(server, public_key, tmp_path).download(offer)
    with pytest.raises(UpdateError) as caught:
        in_exam.install(offer, result)
    assert caught.value.code == "exam_in_progress"
    assert calls == [] and (install_dir / "VERSION").read_text() == INSTALLED


def test_no_release_for_this_platform_means_no_update(release_server, org_key, tmp_path):
    client = updater(release_server, org_key[1], tmp_path)
    client.platform = "windows"  # no test publishes for windows
    assert client.check().kind is UpdateKind.NONE


def test_update_now_does_the_whole_flow_in_one_call(published, tmp_path):
    server, public_key, setup, _ = published
    calls: list = []
    progress: list = []
    command = updater(server, public_key, tmp_path, calls=calls).update_now(
        progress=lambda done, total: progress.append((done, total)))
    assert calls == [command] and command[0].endswith(".run")
    assert progress[-1] == (setup.stat().st_size, setup.stat().st_size)
    with pytest.raises(UpdateError) as caught:  # already on the newest version
        updater(server, public_key, tmp_path, current="0.2.0").update_now()
    assert caught.value.code == "nothing_to_install"


def test_an_old_manifest_replayed_after_a_newer_one_is_refused(published, org_key, file_server,
                                                                tmp_path):
    from zhishiyun.api.client import ServerClient
    from zhishiyun.api.tokens import MemoryTokenStore

    server, public_key, setup, _ = published
    key_file, _public = org_key
    captured = ServerClient(server.url, token_store=MemoryTokenStore()).release_reply(
        "linux", "0.1.0")  # what an attacker on the network keeps
    time.sleep(1.1)  # issued_at has whole seconds
    publish(server, file=setup, url=f"{file_server.url}/{setup.name}", key=key_file,
            version="0.2.1", minimum="0.1.0")
    assert updater(server, public_key, tmp_path).check().version == "0.2.1"

    replayed = Updater(server.url, download_dir=tmp_path / "updates",
                       exam_in_progress=lambda: False, public_key=public_key,
                       current_version="0.1.0", platform="linux",
                       fetch=lambda platform, current: captured)
    with pytest.raises(UpdateError) as caught:
        replayed.check()
    assert caught.value.code == "stale_manifest"
    assert "replayed" in caught.value.message
