"""考试录像: what each exam recorded, what the server has, and playing a local part.

The real server (the demo's finished exam has 4 parts per track there), real H.264 parts on
this computer in the data directory, the real upload queue, the page through the main
window's navigation.
"""

from __future__ import annotations

from zhishiyun.ui.recordings_page import PlaybackDialog, RecordingsWidget, gather_recordings

from .conftest import logged_in_client, make_services


def write_part(path, seconds=1.0, fps=10):
    """A real H.264 MP4 part (PyAV), as the recorder writes one."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(int(seconds * fps)):
            picture = np.full((240, 320, 3), (20 * i % 255, 90, 160), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def lines(card):
    return [card.parts.item(i).text() for i in range(card.parts.count())]


def test_the_recordings_page_lists_parts_by_name_and_plays_one_still_here(
        qtbot, server_factory, tmp_path):
    server = server_factory()
    services = make_services(server.url)
    runtime = services.runtime
    client = logged_in_client(server.url)
    finished = next(e for e in client.exams() if e.state == "finished" and e.session_id)
    sid = finished.session_id
    sessions = runtime.data_dir / "sessions" / sid
    write_part(sessions / "screen" / "000003.mp4")  # the server has it, still kept here
    here = write_part(sessions / "screen" / "000004.mp4", seconds=1.5)  # not uploaded yet
    runtime.queue.enqueue_segment(sid, "screen", 4, here, server.url + "/files/")

    page = RecordingsWidget(lambda: gather_recordings(client, runtime.queue, runtime.data_dir))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.card(sid) is not None, timeout=15_000)
    card = page.card(sid)
    shown = lines(card)
    assert shown[0] == "Screen recording part 1 · uploaded · only on the server"
    assert shown[3].startswith("Screen recording part 4 · uploaded · on this computer (")
    assert shown[4].startswith("Screen recording part 5 · waiting to upload · on this computer")
    assert "Camera recording part 4 · uploaded · only on the server" in shown
    assert card.summary.text().startswith("8 parts uploaded, 1 waiting to upload, 2 still on")

    card.select("screen", 0)
    assert not card.play_button.isEnabled(), "a part only on the server is not played here"
    card.select("screen", 4)
    assert card.play_button.isEnabled()
    card.play_button.click()
    dialog = page.playback
    assert isinstance(dialog, PlaybackDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.preview.pixmap() is not None
                    and not dialog.preview.pixmap().isNull(), timeout=10_000)
    qtbot.waitUntil(lambda: dialog.finished_playing, timeout=15_000)
    assert dialog.status.text() == "Played to the end."
    assert dialog.progress.value() == dialog.progress.maximum()
    dialog.close()

    server.stop()  # offline: what this computer holds is still listed, and why the rest is not
    (offline,) = gather_recordings(client, runtime.queue, runtime.data_dir)
    assert offline.session_id == sid and offline.server_error
    assert [(p.track, p.seq, p.state) for p in offline.parts] == [
        ("screen", 3, "local"), ("screen", 4, "pending")]
    runtime.close()


def test_the_page_is_in_the_main_window_navigation(qtbot, server_factory):
    from zhishiyun.ui.main_window import HomeWidget

    server = server_factory()
    services = make_services(server.url)
    services.client.login_password("110101199003070011", "zsy-demo-1")
    home = HomeWidget(services, {"org_name": "示例考试中心"}, {"name": "张三"})
    qtbot.addWidget(home)
    home.show()
    home.nav_buttons["recordings"].click()
    assert home.stack.currentWidget() is home.recordings
    assert home.nav_buttons["recordings"].text() == "Exam recordings"
    qtbot.waitUntil(lambda: bool(home.recordings.cards), timeout=15_000)
    assert any(c.entry.count("uploaded") == 8 for c in home.recordings.cards)
    home.shutdown()
    services.runtime.close()
