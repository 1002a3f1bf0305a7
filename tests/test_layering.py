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


def _lint_copy(tmp_path, plant: dict[str, str]) -> subprocess.CompletedProcess:
    """Run import-linter over a copy of the packages with ``plant`` files added."""
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    for package in ("zhishiyun", "zhishiyun_server", "zhishiyun_formats"):
        shutil.copytree(repo / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(repo / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative, text in plant.items():
        (tmp_path / relative).write_text(text, encoding="utf-8")
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(tmp_path / "pyproject.toml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})


def test_import_contracts_hold_on_the_tree(tmp_path):
    result = _lint_copy(tmp_path, {})
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_lazy_qt_import_in_the_core_breaks_the_contract(tmp_path):
    lazy_qt = "def show_later():\n    from PySide6 import QtWidgets\n    return QtWidgets\n"
    result = _lint_copy(tmp_path, {"zhishiyun/capture/planted.py": lazy_qt})
    assert result.returncode != 0
    assert "zhishiyun.capture.planted -> PySide6" in result.stdout


def test_a_lazy_ui_import_below_the_ui_breaks_the_layers(tmp_path):
    lazy_ui = "def window():\n    from zhishiyun.ui import app\n    return app\n"
    result = _lint_copy(tmp_path, {"zhishiyun/upload/planted.py": lazy_ui})
    assert result.returncode != 0
    assert "zhishiyun.upload.planted -> zhishiyun.ui.app" in result.stdout


def test_the_device_choice_stays_in_the_base_layer(tmp_path):
    # the start-up checks read it, so it may import nothing above the base modules
    reach_up = ("from zhishiyun.checks import CheckContext\n\n\n"
                "def context():\n    return CheckContext\n")
    result = _lint_copy(tmp_path, {"zhishiyun/device_choice.py": reach_up})
    assert result.returncode != 0
    assert "zhishiyun.device_choice -> zhishiyun.checks" in result.stdout


def test_the_server_importing_the_client_breaks_the_contract(tmp_path):
    reach = "def settings():\n    from zhishiyun import config\n    return config\n"
    result = _lint_copy(tmp_path, {"zhishiyun_server/planted.py": reach})
    assert result.returncode != 0
    assert "zhishiyun_server.planted -> zhishiyun.config" in result.stdout


def test_an_import_cycle_between_server_packages_breaks_the_contract(tmp_path):
    # app mounts bindings; bindings reaching back into app closes a cycle.
    back = "def prefix():\n    from zhishiyun_server.app import API\n    return API\n"
    result = _lint_copy(tmp_path, {"zhishiyun_server/bindings/planted.py": back})
    assert result.returncode != 0
    assert "No cycles are allowed in zhishiyun_server" in result.stdout
    assert ".bindings -> .app" in result.stdout
