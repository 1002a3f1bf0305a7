"""Message centre read state, profile edit, support contacts."""

from __future__ import annotations

from zhishiyun.ui.info_pages import MessagesWidget, ProfileWidget, SupportWidget
from zhishiyun.ui.qt import QApplication, QPushButton, Qt

from .conftest import logged_in_client

LEFT = Qt.MouseButton.LeftButton


def test_opening_a_message_marks_it_read(qtbot, server_factory):
    server = server_factory()
    client = logged_in_client(server.url)
    before = client.messages()
    assert before.unread >= 1, "the demo candidate has unread messages"
    page = MessagesWidget(client)
    qtbot.addWidget(page)
    page.show()
    counts = []
    page.unread_changed.connect(counts.append)
    page.refresh()
    qtbot.waitUntil(lambda: page.list.count() == len(before.messages), timeout=15_000)
    assert counts[-1] == before.unread

    row = next(i for i, m in enumerate(before.messages) if not m.read)
    item = page.list.item(row)
    assert item.font().bold() and item.data(Qt.ItemDataRole.UserRole) == "unread"
    page.list.setCurrentRow(row)
    assert before.messages[row].title in page.reader.toPlainText()
    qtbot.waitUntil(lambda: counts[-1] == before.unread - 1, timeout=15_000)
    assert not page.list.item(row).font().bold()

    after = client.messages()
    assert after.unread == before.unread - 1
    assert next(m for m in after.messages if m.id == before.messages[row].id).read
    page.refresh()  # the read state survives a reload
    qtbot.waitUntil(lambda: page.list.count() == len(before.messages), timeout=15_000)
    assert page.list.item(row).data(Qt.ItemDataRole.UserRole) == "read"


def test_profile_edit_is_validated_and_saved(qtbot, server_factory):
    server = server_factory()
    client = logged_in_client(server.url)
    page = ProfileWidget(client)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.name.text() == "张三", timeout=15_000)
    assert "*" in page.id_number.text(), "the ID number is shown masked"

    page.email.setText("not-an-email")
    qtbot.mouseClick(page.save_button, LEFT)
    assert "email" in page.status.text().lower()
    assert client.me().email != "not-an-email"

    page.phone.setText("13912345678")
    page.email.setText("zhangsan@example.cn")
    qtbot.mouseClick(page.save_button, LEFT)
    qtbot.waitUntil(lambda: page.status.text() == "Saved.", timeout=15_000)
    profile = client.me()
    assert (profile.phone, profile.email) == ("13912345678", "zhangsan@example.cn")


def test_server_refusal_of_a_phone_number_is_shown_inline(qtbot, server_factory):
    server = server_factory()
    client = logged_in_client(server.url)
    page = ProfileWidget(client)
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.name.text() == "张三", timeout=15_000)
    page.phone.setText("12345")  # looks like a number; the server wants 11 digits
    qtbot.mouseClick(page.save_button, LEFT)
    qtbot.waitUntil(lambda: page.save_button.isEnabled() and page.status.text() != "Saving…",
                    timeout=15_000)
    assert "11 digits" in page.status.text()


def test_support_contacts_come_from_the_server_and_copy(qtbot, demo_server):
    config = logged_in_client(demo_server.url).config().model_dump()
    page = SupportWidget(config)
    qtbot.addWidget(page)
    page.show()
    phone = config["support"]["phone"]
    buttons = [b for b in page.findChildren(QPushButton) if b.text() == "Copy"]
    assert len(buttons) >= 3
    qtbot.mouseClick(buttons[0], LEFT)
    assert QApplication.clipboard().text() == phone
    assert phone in page.copied.text()


def test_the_exam_flow_page_lists_the_manuals_steps_in_order(qtbot):
    from zhishiyun.ui.info_pages import FlowWidget

    page = FlowWidget()
    qtbot.addWidget(page)
    titles = [card.findChildren(type(page.title_label))[0].text() for card in page.steps]
    assert [t.split(": ", 1)[1] for t in titles] == [
        "System check", "Login", "Device test", "My exams", "Enter the exam",
        "During the exam", "Hand in"]
    assert titles[0].startswith("Step 1")
