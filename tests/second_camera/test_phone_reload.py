"""The phone page keeps unsent chunks in IndexedDB: leaving the page loses nothing.

Real headless Chromium (fake camera), the vendored tus-js-client, the real server.
"""

from __future__ import annotations

import pytest

from tests.second_camera.test_phone_e2e import _none, phone_state, wait_for
from zhishiyun.exam.second_camera import SecondCameraMonitor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PENDING_SEQS = """
const done = arguments[arguments.length - 1];
const open = indexedDB.open("zsy-phone", 1);
open.onerror = () => done(null);
open.onsuccess = () => {
  const request = open.result.transaction("chunks").objectStore("chunks").getAll();
  request.onsuccess = () => done(request.result.map((row) => row.seq));
  request.onerror = () => done(null);
};
"""


def test_chunks_waiting_offline_are_uploaded_after_the_page_is_reopened(entered, chromium):
    server, client, sid, _key = entered
    monitor = SecondCameraMonitor(client, sid, poll_seconds=0.5)
    code = monitor.create_code()
    chromium.get(code.url)
    wait_for(lambda: phone_state(chromium).get("phase") == "bound", 30, "the phone to bind")
    assert chromium.execute_script("return typeof tus.Upload") == "function"
    wait_for(lambda: chromium.find_element("id", "start").is_enabled(), 20, "the camera")
    chromium.find_element("id", "start").click()
    wait_for(lambda: len(client.recordings(sid).tracks.get("phone", _none).received) >= 1,
             30, "the first phone chunk")

    chromium.set_network_conditions(offline=True, latency=0, download_throughput=-1,
                                    upload_throughput=-1)
    waiting = wait_for(lambda: [s for s in (chromium.execute_async_script(PENDING_SEQS) or [])
                                if s not in client.recordings(sid).tracks["phone"].received],
                       20, "a chunk kept in IndexedDB while offline")
    chromium.get("about:blank")  # the page is gone (a reload, a killed tab): memory is lost
    chromium.set_network_conditions(offline=False, latency=0, download_throughput=-1,
                                    upload_throughput=-1)
    chromium.get(code.url.split("#", 1)[0])  # the same tab: its binding is still there
    wait_for(lambda: phone_state(chromium).get("restored", 0) >= 1, 30,
             "the page to pick up the stored chunks")
    received = wait_for(lambda: set(waiting) <= set(client.recordings(sid).tracks["phone"]
                                                      .received)
                        and client.recordings(sid).tracks["phone"].received, 40,
                        "the stored chunks on the server")
    assert set(waiting) <= set(received)
    wait_for(lambda: not chromium.execute_async_script(PENDING_SEQS), 20,
             "IndexedDB emptied once uploaded")
    assert client.recordings(sid).tracks["phone"].chain_ok is True
