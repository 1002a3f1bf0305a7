"""The core runs headless: importing every core module pulls in no Qt at all."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import zhishiyun


def test_core_modules_import_without_qt():
    core = sorted(
        m.name for m in pkgutil.walk_packages(zhishiyun.__path__, "zhishiyun.")
        if not m.name.startswith("zhishiyun.ui") and m.name != "zhishiyun.__main__"
    )
    assert "zhishiyun.config" in core
    code = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'shiboken6'):\n"
        "            raise ImportError('Qt imported by the core: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {core!r}: importlib.import_module(m)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
