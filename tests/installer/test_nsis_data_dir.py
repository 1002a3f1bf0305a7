"""The data_dir line the Windows installer writes is one the client reads as meant."""

from __future__ import annotations

import re
from pathlib import Path

from zhishiyun.config import load_settings

REPO = Path(__file__).resolve().parents[2]
NSI = (REPO / "installer" / "windows" / "zhishiyun.nsi").read_text(encoding="utf-8")


def written_lines() -> list[str]:
    """Every data_dir line the script writes, as the file will hold it for D:\\Zhishiyun."""
    lines = [m[1] for m in re.findall(r'^\s*FileWrite \$0 (["\'])(.*data_dir = .*)\1$', NSI,
                                       re.MULTILINE)]
    assert lines, "the installer writes no data_dir"
    return [line.replace("$\\r$\\n", "\r\n").replace("$DataRoot", "D:\\ZhishiyunData")
            for line in lines]


def test_every_data_dir_line_is_toml_the_client_reads_unchanged(tmp_path):
    for line in written_lines():
        system = tmp_path / "zhishiyun.toml"
        system.write_text('server_url = "https://exam.example.cn"\r\n' + line, encoding="utf-8")
        settings = load_settings(environ={}, system_file=system, user_file=tmp_path / "u.toml")
        assert settings.problems == [], (line, settings.problems)
        assert settings.data_dir == "D:\\ZhishiyunData"
        assert settings.sources["data_dir"].startswith("system file")


def test_data_root_is_on_the_install_drive_and_purge_removes_only_it():
    assert 'StrCpy $0 $INSTDIR 2\n    StrCpy $DataRoot "$0\\${APP}Data"' in NSI
    assert 'WriteRegStr HKLM "${REG_KEY}" "DataDir" "$DataRoot"' in NSI
    purge = NSI[NSI.index("${If} $Purge == 1"):]
    assert 'RMDir /r "$1"' in purge and '${If} $3 == "\\${APP}Data"' in purge
