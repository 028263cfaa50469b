"""A reader finds a piece of behaviour from the tree alone: one module name means one
module, whatever layer it sits in (no history.py beside store/history.py)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_two_modules_of_the_product_share_a_name():
    where: dict[str, list[str]] = defaultdict(list)
    for path in (ROOT / "shared").rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            where[path.stem].append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_the_package_root_holds_only_its_layers():
    # Pure core, adapters to outside services, storage, notifications, the shell.
    layers = {p.name for p in (ROOT / "shared").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert layers == {"core", "adapters", "store", "notify", "shell"}
    loose = {p.name for p in (ROOT / "shared").glob("*.py")}
    assert loose == {"__init__.py", "__main__.py"}
