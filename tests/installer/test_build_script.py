"""installer/build.py helpers that decide what the Windows installer is stamped with."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("version", "expected"), [
    ("0.1.0", "0.1.0.0"), ("1.2.0rc1", "1.2.0.0"), ("2.0", "2.0.0.0"),
    ("1.2.3.post4+abc.5", "1.2.3.0"),
])
def test_windows_file_version_is_four_numbers(build_module, version, expected):
    assert build_module.windows_file_version(version) == expected


def test_version_is_read_from_the_package(build_module):
    import zhishiyun

    assert build_module.version() == zhishiyun.__version__


def test_bundle_contents_check_refuses_the_server_and_demands_the_lazy_modules(
        build_module, monkeypatch):
    good = set(build_module.REQUIRED) | {"zhishiyun", "PySide6", "numpy.tests"}
    monkeypatch.setattr(build_module, "bundle_modules", lambda: good)
    build_module.check_contents()
    monkeypatch.setattr(build_module, "bundle_modules",
                        lambda: good | {"zhishiyun_server.app"})
    with pytest.raises(build_module.StepFailed, match="zhishiyun_server"):
        build_module.check_contents()
    monkeypatch.setattr(build_module, "bundle_modules",
                        lambda: good - {"zhishiyun.ui.app"} | {"PySide6.QtQuick"})
    with pytest.raises(build_module.StepFailed, match=r"PySide6.QtQuick.*zhishiyun.ui.app"):
        build_module.check_contents()
