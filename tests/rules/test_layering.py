"""The floors of the house, read from the imports themselves (ast), function-local ones included.

    rules/       the pure domain: imports no other project package (tests/rules/test_purity.py)
    app/base/    the ground floor: settings, database, tables, migrations, exchange, Redis messages,
                 outbox, outages, metrics, JSON lines, display; imports only rules/
    ingest/      stands on app/base/ and rules/; never on video/ or the rest of app/
    video/       stands on app/base/ and rules/; never on ingest/ or the rest of app/
    layouts/     pages only draw: no database, no queries, no writes, no ingest or video
    app/ (rest)  the roof: the web, the CLI, PDFs, SMS, notifications; may use everything below

and no module of the project takes part in an import circle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "ingest", "video", "rules", "layouts")

# What each floor may import from the project, by module prefix (a floor may always import itself).
ALLOWED = {
    "rules": ("rules",),
    "app.base": ("app.base", "rules"),
    "ingest": ("ingest", "app.base", "rules"),
    "video": ("video", "app.base", "rules"),
}
# What a page must never reach for: it is handed data and draws it.
LAYOUTS_FORBIDDEN = (
    "ingest",
    "video",
    "app.queries",
    "app.base.database",
    "app.base.tables",
    "app.base.outbox",
    "app.base.exchange",
    "sqlalchemy",
)


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module `name` imports (absolute names, relative imports resolved), with its line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base, node.lineno
            for alias in node.names:  # `from app import outbox` imports the module app.outbox
                yield f"{base}.{alias.name}", node.lineno


def _project_module(imported: str, modules: dict[str, Path]) -> str | None:
    while imported and imported not in modules:
        imported = imported.rpartition(".")[0]
    return imported or None


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _floor(name: str) -> str | None:
    for floor in sorted(ALLOWED, key=len, reverse=True):
        if _within(name, floor):
            return floor
    return None


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = _modules(root)
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported, _ in imports_of(name, path):
            target = _project_module(imported, modules)
            if target and target != name:
                edges[name].add(target)
    return edges


def breaches(root: Path = ROOT) -> list[str]:
    modules = _modules(root)
    found = []
    for name, path in sorted(modules.items()):
        floor = _floor(name)
        for imported, line in imports_of(name, path):
            where = f"{path.relative_to(root)}:{line} imports {imported}"
            if floor is not None:
                target = _project_module(imported, modules)
                if target and not any(_within(target, allowed) for allowed in ALLOWED[floor]):
                    found.append(where)
            elif _within(name, "layouts") and any(_within(imported, bad) for bad in LAYOUTS_FORBIDDEN):
                found.append(where)
    # `from video import keys` names both video and video.keys: report the most precise only.
    return sorted(b for b in set(found) if not any(other.startswith(b + ".") for other in found))


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_every_floor_imports_only_what_is_below_it():
    assert breaches() == []


def test_no_module_takes_part_in_an_import_circle():
    assert circles(graph()) == []


# The checks themselves: each must catch the fault it names, or the tests above prove nothing.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in PACKAGES:
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    (tmp_path / "app" / "base").mkdir(exist_ok=True)
    (tmp_path / "app" / "base" / "__init__.py").touch()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "caught"),
    [
        ({"ingest/a.py": "from video import keys\n", "video/keys.py": ""}, "ingest/a.py imports video.keys"),
        ({"video/a.py": "def f():\n    from ingest import b\n", "ingest/b.py": ""}, "video/a.py imports ingest.b"),
        ({"ingest/a.py": "from app import web\n", "app/web.py": ""}, "ingest/a.py imports app.web"),
        ({"app/base/a.py": "from app.kpi import x\n", "app/kpi.py": ""}, "app/base/a.py imports app.kpi"),
        ({"layouts/p.py": "from sqlalchemy import select\n"}, "layouts/p.py imports sqlalchemy"),
        ({"layouts/p.py": "from app.queries.cases import one\n"}, "layouts/p.py imports app.queries.cases"),
        ({"rules/r.py": "from app.base import tables\n", "app/base/tables.py": ""}, "rules/r.py imports app.base"),
    ],
)
def test_a_breach_of_the_floors_is_caught(tmp_path, files, caught):
    assert [b for b in breaches(_tree(tmp_path, files)) if re.sub(r":\d+ ", " ", b).startswith(caught)]


def test_allowed_imports_are_not_breaches(tmp_path):
    root = _tree(
        tmp_path,
        {
            "ingest/a.py": "from app.base import tables\nfrom rules import clocks\nfrom . import b\n",
            "ingest/b.py": "",
            "app/base/tables.py": "",
            "rules/clocks.py": "",
            "app/web.py": "from ingest import a\nfrom video import v\nfrom layouts import p\n",
            "video/v.py": "",
            "layouts/p.py": "from app.base import display\n",
            "app/base/display.py": "",
        },
    )
    assert breaches(root) == []


def test_a_circle_hidden_in_a_function_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {"ingest/a.py": "from ingest import b\n", "ingest/b.py": "def f():\n    from ingest.a import x\n"},
    )
    assert circles(graph(root)) == [["ingest.a", "ingest.b"]]
