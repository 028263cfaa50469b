"""checkov over infra/: zero failed checks and zero files it could not parse (a file it
cannot parse is skipped whole), with the custom checks in infra/checks applied; and
those checks catch each loosening. checkov runs from its own venv (.venv-infra,
`make infra-check` makes it: its pins clash with requirements-dev.txt); `make lint`
gates on the same run."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, ROOT

CHECKOV = ROOT / ".venv-infra" / "bin" / "checkov"
INSECURE = Path(__file__).parent / "fixtures"
CUSTOM = {f"CKV_SMTPAUTH_{n}" for n in range(1, 9)}

pytestmark = pytest.mark.skipif(not CHECKOV.exists(), reason="no .venv-infra: run `make infra-check` first")


@cache
def scan(folder: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(folder),
            "--framework",
            "bicep",
            "--skip-download",
            "--external-checks-dir",
            str(INFRA / "checks"),
            "-o",
            "json",
        ],
        check=False,  # exit 1 on a failed check: the report says which
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    report = json.loads(out.stdout)
    return report[0] if isinstance(report, list) else report


def ids(report: dict[str, Any], kind: str) -> set[str]:
    return {c["check_id"] for c in report["results"][kind]}


def test_no_check_fails_and_every_file_parses():
    report = scan(INFRA)
    assert report["results"]["failed_checks"] == []
    assert report["results"]["parsing_errors"] == []
    assert report["summary"]["resource_count"] >= 20


def test_every_custom_check_ran_and_passed():
    assert ids(scan(INFRA), "passed_checks") >= CUSTOM


def test_every_skip_gives_its_reason():
    for check in scan(INFRA)["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_the_custom_checks_catch_each_loosening():
    report = scan(INSECURE)
    assert ids(report, "failed_checks") >= CUSTOM
    assert ids(report, "passed_checks") & CUSTOM == set()
