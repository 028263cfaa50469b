"""docs/reliability.md's matrix and the suite cannot drift apart: every test a row
names is collected by pytest, and every test in tests/faults/ is named by a row."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "reliability.md"
HEADER = ["area", "fault", "expected behaviour", "test"]


def rows() -> list[list[str]]:
    table = [line for line in MATRIX.read_text().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    assert cells[0] == HEADER, "the matrix's columns changed"
    return [c for c in cells[2:] if c]


def named(cell: str) -> str | None:
    """The node id a row's test cell names, or None for ``pending: <what>``."""
    if cell.startswith("pending: ") and len(cell) > len("pending: ") + 10:
        return None
    match = re.fullmatch(r"`(tests/[\w/]+\.py::\w+(\[[^\]]+\])?)`", cell)
    assert match, f"a test cell is a node id in backticks or 'pending: <what>', got {cell!r}"
    return match.group(1)


def collected(files: set[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *sorted(files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_every_row_names_a_collected_test_and_every_fault_test_has_a_row():
    table = rows()
    assert all(len(r) == len(HEADER) and all(r) for r in table), "a row with an empty or missing cell"
    ids = [i for i in (named(r[3]) for r in table) if i]
    assert len(ids) == len(set(ids)), "a test named by two rows"
    found = collected({i.split("::")[0] for i in ids} | {"tests/faults"})
    bases = {i.split("[")[0] for i in found}
    missing = [i for i in ids if i not in found and i not in bases]
    assert missing == [], f"rows name tests pytest does not collect: {missing}"
    ours = {i.split("[")[0] for i in found if i.startswith("tests/faults/")} - {
        "tests/faults/test_matrix.py::test_every_row_names_a_collected_test_and_every_fault_test_has_a_row"
    }
    unlisted = sorted(t for t in ours if not any(i.split("[")[0] == t for i in ids))
    assert unlisted == [], f"tests in tests/faults/ that no row names: {unlisted}"
