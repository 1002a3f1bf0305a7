"""``zhishiyun diagnose``: a zip support can read, with nothing secret in it."""

from __future__ import annotations

import json
import zipfile

from zhishiyun import paths
from zhishiyun.cli import main
from zhishiyun.config import load_settings
from zhishiyun.diagnose import write_zip

ID_NUMBER = "110101199003070011"


def _all_text(zip_path) -> str:
    with zipfile.ZipFile(zip_path) as zf:
        return "\n".join(zf.read(name).decode("utf-8") for name in zf.namelist())


def test_zip_holds_logs_checks_and_config_with_secrets_masked(isolated_home, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv("ZHISHIYUN_PROXY", "http://staff:hunter2-proxy@proxy.example.cn:8080")
    user_file = paths.user_config_file()
    user_file.parent.mkdir(parents=True)
    user_file.write_text('language = "en"\nproxy = "http://staff:hunter2-file@proxy:8080"\n')
    settings = load_settings()
    logs = paths.logs_dir(settings.data_path)
    logs.mkdir(parents=True)
    # an old log line written before masking existed, or by a careless tool
    (logs / "zhishiyun.log").write_text(
        f"login id_number={ID_NUMBER} Authorization: Bearer tok.SECRET-123\n", encoding="utf-8")
    (logs / "zhishiyun.log.1").write_text("older rotated log\n", encoding="utf-8")

    out = write_zip(tmp_path / "diag.zip", settings, check_ids=["os", "disk", "memory"])

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        checks = json.loads(zf.read("checks.json"))
        config = json.loads(zf.read("config.json"))
        system = json.loads(zf.read("system.json"))
    assert {"system.json", "config.json", "checks.json", "logs/zhishiyun.log",
            "logs/zhishiyun.log.1", "config-files/user-zhishiyun.toml"} <= names
    assert sorted(c["id"] for c in checks["results"]["checks"]) == ["disk", "memory", "os"]
    assert {r["key"]: r["source"] for r in config["settings"]}["language"].startswith("user")
    assert system["paths"]["data_dir"] == str(settings.data_path)
    text = _all_text(out)
    for secret in (ID_NUMBER, "tok.SECRET-123", "hunter2-proxy", "hunter2-file"):
        assert secret not in text
    assert "110*************11" in text  # masked, still recognisable for support


def test_unwritable_destination_is_one_line_and_exit_1(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = main(["diagnose", "--out", str(blocker / "diag.zip")])
    err = capsys.readouterr().err
    assert code == 1
    line = [li for li in err.splitlines() if li.startswith("zhishiyun: error:")]
    assert len(line) == 1
    assert "Could not write the diagnostics file" in line[0] and "is not a folder" in line[0]
    assert not (blocker.parent / "diag.zip").exists()
