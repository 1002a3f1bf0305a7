from __future__ import annotations

import logging

import pytest

from zhishiyun.log import mask, mask_id_number, setup_logging

ID = "110101199003070011"
ID_X = "44030419950815002X"
PHONE = "13812345678"
TOKEN = "zsy_8f3b2c1d9e7a6b5c4d3e2f1a0b9c8d7e"


def test_mask_keeps_first_three_and_last_two_of_id_numbers():
    assert mask(f"candidate {ID} logged in") == "candidate 110*************11 logged in"
    assert ID_X not in mask(f"id={ID_X}") and "440" in mask(ID_X) and mask(ID_X).endswith("2X")
    assert mask_id_number(ID) == "110*************11"


def test_mask_hides_phones_tokens_passwords_and_url_credentials():
    text = mask(f"phone {PHONE} Authorization: Bearer {TOKEN} "
                f'{{"password": "zsy-demo-1", "session_key": "abc123"}} '
                f"proxy http://alice:hunter2@proxy:3128 token={TOKEN}")
    for secret in (PHONE, TOKEN, "zsy-demo-1", "abc123", "hunter2"):
        assert secret not in text
    assert "138****5678" in text


def test_mask_leaves_hashes_and_timestamps_alone():
    sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert mask(f"sha256 {sha} at 1763924160123") == f"sha256 {sha} at 1763924160123"


@pytest.fixture
def restore_logging():
    """Leave no DEBUG console handler behind for the tests that follow."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_zhishiyun", False)]:
        root.removeHandler(handler)
        handler.close()


def test_no_secret_reaches_any_log_line(tmp_path, capsys, restore_logging):
    log_file = setup_logging(tmp_path / "logs", "DEBUG", console_level="DEBUG")
    log = logging.getLogger("zhishiyun.test")
    log.info("login %s with password=%s", ID, "zsy-demo-1")
    logging.getLogger("urllib3.connectionpool").debug('"GET /me" headers Bearer %s', TOKEN)
    try:
        raise ValueError(f"bad id {ID} phone {PHONE}")
    except ValueError:
        log.exception("failed for %s", ID_X)
    log.info("stack", stack_info=True, extra={})
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = log_file.read_text(encoding="utf-8") + capsys.readouterr().err
    assert "login 110*************11" in written and "ValueError" in written
    for secret in (ID, ID_X, PHONE, TOKEN, "zsy-demo-1"):
        assert secret not in written


@pytest.mark.parametrize(("text", "secret"), [
    ('{"password": "my secret, pass phrase"}', "secret, pass phrase"),
    ("password=correct horse battery, next=1", "horse battery"),
    ("{'session_key': '0f1e2d3c4b5a'}", "0f1e2d3c4b5a"),
    ("session_key=0f1e2d3c4b5a", "0f1e2d3c4b5a"),
    (f"login user{ID}abc ok", ID),
    (f"ID:{ID_X}abc", ID_X),
    (f"tel{PHONE}x", PHONE),
    ("phone page https://exam/phone/#zsyp_S3cretCredential-x done", "S3cretCredential"),
    ('{"credential": "zsyp_abc", "x-review-secret": "rev-secret"}', "rev-secret"),
    ('token="a\\"b c"', 'b c'),
])
def test_mask_hides_spaced_passwords_glued_ids_phone_credentials_and_session_keys(text, secret):
    assert secret not in mask(text)


def test_mask_keeps_words_that_merely_contain_a_secret_name():
    assert mask('"compass": "north", "code": "invalid_credentials"') == \
        '"compass": "north", "code": "invalid_credentials"'
