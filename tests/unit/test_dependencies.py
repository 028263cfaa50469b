"""Dependencies run one way: shell -> notify -> store -> core, and adapters -> core.
Checked on the import statements of every module (at the top, inside functions,
under TYPE_CHECKING alike), so a shortcut cannot creep back in unnoticed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, module) for every module an import statement in ``path`` names, resolved
    to an absolute name. ``from a import b`` yields both ``a`` and ``a.b``: b may be a
    module (``from shared import notify``)."""
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def imports_of(layer: str, root: Path = ROOT) -> Iterator[tuple[str, str]]:
    """(where, module) for every import in the modules of ``layer`` (e.g. shared/store)."""
    for path in sorted((root / layer).rglob("*.py")):
        for line, target in imported(path, root):
            yield f"{path.relative_to(root)}:{line}", target


def test_store_imports_neither_notify_nor_the_shell():
    found = [
        f"{where} imports {target}"
        for where, target in imports_of("shared/store")
        if inside(target, "shared.notify") or inside(target, "shared.shell")
    ]
    assert found == []


def test_core_imports_nothing_of_the_package_outside_core():
    found = [
        f"{where} imports {target}"
        for where, target in imports_of("shared/core")
        if inside(target, "shared") and target != "shared" and not inside(target, "shared.core")
    ]
    assert found == []


def test_adapters_import_neither_notify_the_shell_nor_the_store():
    banned = ("shared.notify", "shared.shell", "shared.store")
    found = [
        f"{where} imports {target}"
        for where, target in imports_of("shared/adapters")
        if any(inside(target, b) for b in banned)
    ]
    assert found == []


def test_the_walk_finds_relative_nested_and_package_imports(tmp_path):
    store = tmp_path / "shared" / "store"
    store.mkdir(parents=True)
    (store / "__init__.py").write_text("from .outbox import OutboxStore\n")
    (store / "sample.py").write_text(
        "from ..notify import dispatch\n"
        "from shared import shell\n"
        "def later():\n"
        "    import shared.notify.card\n"
    )
    found = {target for _, target in imports_of("shared/store", tmp_path)}
    assert {"shared.store.outbox", "shared.notify.dispatch", "shared.shell", "shared.notify.card"} <= found


def test_notify_does_not_import_the_shell():
    found = [
        f"{where} imports {target}"
        for where, target in imports_of("shared/notify")
        if inside(target, "shared.shell")
    ]
    assert found == []
