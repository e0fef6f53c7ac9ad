"""rules/ is pure: no I/O libraries, no other project package, no wall clock."""

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "rules"
FORBIDDEN_IMPORTS = {
    "sqlalchemy",
    "redis",
    "fakeredis",
    "psycopg",
    "app",
    "ingest",
    "video",
    "layouts",
    "requests",
    "os",
    "pathlib",
    "socket",
    "subprocess",
    "time",
}
FORBIDDEN_CALLS = {"now", "today", "utcnow", "open", "read_text", "read_bytes"}


@pytest.mark.parametrize("path", sorted(RULES.glob("*.py")), ids=lambda p: p.name)
def test_module_is_pure(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported & FORBIDDEN_IMPORTS == set()
    calls = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert calls & FORBIDDEN_CALLS == set()
