"""With a real Secret Service (gnome-keyring on a private D-Bus), the token goes there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.server.support import ZHANG_SAN

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent("""
    import sys
    import keyring
    from zhishiyun.api import ServerClient
    from zhishiyun.api.tokens import SERVICE, TokenStore

    url = sys.argv[1]
    store = TokenStore(url)
    print("backend", type(keyring.get_keyring()).__module__, store.secure)
    client = ServerClient(url, token_store=store)
    token = client.login_password(sys.argv[2], sys.argv[3]).token
    print("in-keyring", keyring.get_password(SERVICE, url) == token)
    print("fresh-client", ServerClient(url, token_store=TokenStore(url)).me().name)
    client.logout()
    print("after-logout", keyring.get_password(SERVICE, url))
""")


@pytest.mark.skipif(not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
                    reason="needs dbus-run-session and gnome-keyring-daemon (apt: dbus, "
                           "gnome-keyring) for a real Secret Service")
def test_token_lives_in_the_secret_service(demo_server, tmp_path):
    (tmp_path / "probe.py").write_text(SCRIPT, encoding="utf-8")
    shell = (f"export HOME={tmp_path}; echo -n test | gnome-keyring-daemon --unlock "
             f"--components=secrets >/dev/null 2>&1; exec {sys.executable} {tmp_path}/probe.py "
             f"{demo_server.url} {ZHANG_SAN[1]} {ZHANG_SAN[2]}")
    result = subprocess.run(["dbus-run-session", "--", "sh", "-c", shell], capture_output=True,
                            text=True, timeout=60)
    lines = result.stdout.splitlines()
    assert "backend keyring.backends.SecretService True" in lines, result.stdout + result.stderr
    assert "in-keyring True" in lines
    assert "fresh-client 张三" in lines  # a restarted client finds the login
    assert "after-logout None" in lines
