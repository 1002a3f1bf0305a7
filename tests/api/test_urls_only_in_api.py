"""Nothing outside ``zhishiyun/api/`` builds a server URL (string literals, not docs)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "zhishiyun"
FRAGMENTS = ("/api/v1", "/sessions/", "/files", "/auth/", "/client/release")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                ids.add(id(body[0].value))
    return ids


def url_literals(root: Path) -> list[str]:
    """``file:line: text`` of every non-docstring literal naming a server path."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if (root / "api") in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docs and any(f in node.value for f in FRAGMENTS):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def test_no_server_paths_outside_the_api_package():
    assert url_literals(PACKAGE) == []


def test_the_guard_sees_a_planted_url(tmp_path):
    planted = tmp_path / "zhishiyun" / "exam"
    planted.mkdir(parents=True)
    (planted / "x.py").write_text('"""Doc /sessions/ is fine."""\n'
                                  'URL = f"{base}/sessions/{sid}/events"\n')
    assert url_literals(tmp_path / "zhishiyun") == ["exam/x.py:2: '/sessions/'"]
