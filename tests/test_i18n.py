from __future__ import annotations

from zhishiyun import i18n


def test_chinese_catalog_translates_core_messages():
    assert i18n.set_language("zh_CN") == "zh_CN"
    try:
        assert i18n._("Exam server") == "考试服务器"
    finally:
        i18n.set_language("en")
    assert i18n._("Exam server") == "Exam server"


def test_pseudo_locale_lengthens_and_keeps_placeholders():
    i18n.set_language("pseudo")
    try:
        text = i18n._("Free space on {path}: {free} GB")
        assert len(text) >= len("Free space on {path}: {free} GB") * 1.3
        assert "{path}" in text and "{free}" in text
        assert text.format(path="/", free=3)  # still formats
    finally:
        i18n.set_language("en")


def test_auto_follows_the_system_locale(monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(i18n.locale, "getlocale", lambda: (None, None))
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.set_language("auto") == "zh_CN"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert i18n.set_language("auto") == "en"
