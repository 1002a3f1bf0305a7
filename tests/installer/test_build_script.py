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
