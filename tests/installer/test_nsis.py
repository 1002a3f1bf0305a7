"""The Windows installer script compiles with Debian's makensis; a broken one fails."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NSI = REPO / "installer" / "windows" / "zhishiyun.nsi"

pytestmark = pytest.mark.skipif(shutil.which("makensis") is None,
                                reason="makensis not installed (apt-get install nsis)")


def test_script_compiles_to_a_windows_executable(build_module, tmp_path):
    out = tmp_path / "ZhishiyunSetup.exe"
    result = build_module.build_nsis(build_module.stub_payload(tmp_path), out,
                                     compressor="zlib")
    assert result["nsis"] == "ok"
    assert out.read_bytes()[:2] == b"MZ"  # a PE executable


@pytest.mark.parametrize("breakage", [
    ('    StrCpy $INSTDIR "D:\\${APP}"\n  ${EndIf}\n',
     '    StrCpy $INSTDIR "D:\\${APP}"\n'),                 # unbalanced ${If}
    ('!define CONFIG_DIR "$APPDATA\\Zhishiyun"',
     '!define CONFIG_DIR "$COMMONAPPDATA\\Zhishiyun"'),  # unknown constant: a warning, fatal
], ids=["syntax", "warning"])
def test_a_broken_script_fails_the_build(build_module, tmp_path, breakage):
    old, new = breakage
    text = NSI.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "zhishiyun.nsi"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(build_module.StepFailed, match="makensis failed"):
        build_module.build_nsis(build_module.stub_payload(tmp_path), tmp_path / "x.exe",
                                script=broken, compressor="zlib")


def test_compiling_without_a_payload_says_what_is_missing(build_module, tmp_path):
    import subprocess

    done = subprocess.run([build_module.makensis(), "-V2", str(NSI)], capture_output=True,
                          text=True)
    assert done.returncode != 0
    assert "PAYLOAD_DIR" in done.stdout + done.stderr


def test_exit_codes_in_the_script_are_the_ones_documented():
    script = dict((int(code), name) for name, code in
                  re.findall(r"^!define EXIT_(\w+) (\d+)$", NSI.read_text(), re.MULTILINE))
    docs = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| `(\d+)` \|", docs, re.MULTILINE)}
    assert set(script) <= documented, f"undocumented exit codes: {set(script) - documented}"
    assert {0, 1, 2} <= documented
