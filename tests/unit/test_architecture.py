"""The rooms of DESIGN.md and what each may import; every hook is documented."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from source_trees import ROOT, files, nodes_of, product_files, text_of, tree_of

from ports import hookspecs

THIRD_PARTY_OK_IN_CORE = {"pydantic"}
FRAMEWORKS = {
    "aiohttp",
    "sqlalchemy",
    "alembic",
    "pluggy",
    "dependency_injector",
    "structlog",
    "prometheus_client",
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in nodes_of(path):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", files("core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_framework_and_no_outer_room(path: Path) -> None:
    allowed_rooms = {"core"} | ({"ports"} if "usecases" in path.parts else set())
    for name in imports_of(path):
        assert top(name) not in FRAMEWORKS, f"{path} imports {name}"
        assert top(name) not in {"gateway", "plugins", "ports"} - allowed_rooms, f"{path} imports {name}"


@pytest.mark.parametrize("path", files("ports"), ids=lambda p: str(p.relative_to(ROOT)))
def test_ports_import_only_core(path: Path) -> None:
    for name in imports_of(path):
        assert top(name) not in {"gateway", "plugins", "aiohttp", "sqlalchemy"}, f"{path} imports {name}"


@pytest.mark.parametrize("path", files("plugins"), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_neither_gateway_nor_each_other(path: Path) -> None:
    package = path.relative_to(ROOT / "plugins").parts[0]
    libraries = {
        p.name for p in (ROOT / "plugins").iterdir() if p.is_dir() and p.name not in _channel_plugins()
    }
    for name in imports_of(path):
        assert top(name) != "gateway", f"{path} imports {name}"
        if top(name) == "plugins" and name.count(".") >= 1:
            target = name.split(".")[1]
            assert target == package or target in libraries, f"{path} imports another plugin: {name}"


def _channel_plugins() -> set[str]:
    """Plugins are packages registered as entry points; libraries under plugins/ are not."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    eps = project["entry-points"]["paygate.channels"]
    return {target.split(".")[1] for target in eps.values()}


def test_a_room_importing_what_it_may_not_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import sqlalchemy\nfrom gateway.app import create_app\n")
    assert {"sqlalchemy", "gateway.app"} <= imports_of(bad)


def test_every_hookspec_is_documented() -> None:
    specs = [
        obj
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, "paygate_spec")
    ]
    assert specs, "no hook specifications found"
    for spec in specs:
        assert spec.__doc__ and len(spec.__doc__.strip()) > 40, f"hook {spec.__name__} is undocumented"


def test_every_module_opens_with_a_docstring() -> None:
    for room in ("core", "ports", "plugins", "gateway"):
        for path in files(room):
            if path.name == "__init__.py" and not text_of(path).strip():
                continue
            if "versions" in path.parts:
                continue
            assert ast.get_docstring(tree_of(path)), f"{path} has no module docstring"


# --- Sizes a newcomer can hold (issue 9): no product module over 400 lines, no function over 60.

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Declarative tables are exempt from the function limit: migrations (one function per revision
# listing every column) and route tables (`*_routes()`: one entry per route).
FUNCTION_LIMIT_EXEMPT = ("gateway/migrations/",)


def is_route_table(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return node.name.endswith("_routes") and isinstance(node.body[-1], ast.Return)


def long_functions(path: Path, limit: int) -> list[str]:
    found = []
    for node in nodes_of(path):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not is_route_table(node):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append(f"{node.name} ({length} lines, line {node.lineno})")
    return found


def test_no_product_module_is_over_the_size_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in product_files()
        if "migrations" not in path.parts and (n := len(text_of(path).splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {too_long}"


def test_no_product_function_is_over_the_size_limit() -> None:
    too_long = {
        rel: found
        for path in product_files()
        if not (rel := str(path.relative_to(ROOT))).startswith(FUNCTION_LIMIT_EXEMPT)
        and (found := long_functions(path, MAX_FUNCTION_LINES))
    }
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_the_size_checks_catch_a_long_module_and_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    path = tmp_path / "long.py"
    path.write_text(f"def long():\n{body}\n", encoding="utf-8")
    assert long_functions(path, MAX_FUNCTION_LINES) == [f"long ({MAX_FUNCTION_LINES + 2} lines, line 1)"]


def test_every_path_the_architecture_map_names_exists() -> None:
    """docs/ARCHITECTURE.md opens with "to change X, open Y": every path it names must exist."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    the_map = text.split("## The map", 1)[1].split("\n## ", 1)[0]
    named = {
        path.split(" ")[0].rstrip("/")
        for path in re.findall(r"`([a-z_]+/[^`<>*]+)`", the_map)
        if not path.startswith(("apps.", "channels."))
    }
    assert len(named) > 30, named
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"the map names paths that do not exist: {missing}"
