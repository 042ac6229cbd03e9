"""The product's source files, read and parsed once per test session: the architecture and
event-type checks walk every module, and parsing each file once keeps the unit layer fast."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT_ROOMS = ("core", "ports", "plugins", "gateway")


def files(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def product_files() -> list[Path]:
    return [path for room in PRODUCT_ROOMS for path in files(room)]


@functools.cache
def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(text_of(path))


@functools.cache
def nodes_of(path: Path) -> tuple[ast.AST, ...]:
    """Every node of a module, in `ast.walk` order."""
    return tuple(ast.walk(tree_of(path)))


def walk_product() -> Iterator[tuple[Path, ast.AST]]:
    """(path relative to the root, node) for every node of every product module."""
    for path in product_files():
        rel = path.relative_to(ROOT)
        for node in nodes_of(path):
            yield rel, node
