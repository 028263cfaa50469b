"""Cold start: importing function_app (what the Functions host does to index the
app) must not import the heavy libraries a check or a notification needs; they
load when first used. Behavioural, in a fresh interpreter: no timing here
(`make bench` measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("msgraph", "azure.identity", "azure.data.tables", "azure.storage.queue", "aiohttp", "opentelemetry")


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def loaded(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_importing_function_app_loads_none_of_the_heavy_libraries() -> None:
    modules = modules_after("import function_app")
    assert "function_app" in modules
    assert [p for p in LAZY if loaded(modules, p)] == []


def test_the_probe_sees_them_when_they_are_imported() -> None:
    # Guards the test above against passing because it cannot see anything.
    modules = modules_after("import function_app, shared.shell.jobs, azure.identity.aio")
    assert loaded(modules, "azure.identity")
    assert loaded(modules, "azure.data.tables")
