"""The dependency audit in `make lint` fails closed on what pip-audit reports."""

from __future__ import annotations

import re
import subprocess

import pytest

from tools import audit_requirements
from tools.audit_requirements import IGNORED, REQUIREMENTS, first_pin, judge, pins

CLEAN = {"dependencies": [{"name": "aiohttp", "version": "3.14.5", "vulns": []}], "fixes": []}
VULN = {"id": "PYSEC-2099-1", "aliases": ["GHSA-xxxx-yyyy-zzzz"], "fix_versions": ["3.14.6"]}


def test_a_clean_report_passes():
    assert judge(CLEAN).ok


def test_a_known_vulnerability_fails_naming_the_package_and_the_fix():
    verdict = judge({"dependencies": [{"name": "aiohttp", "version": "3.14.5", "vulns": [VULN]}]})
    assert not verdict.ok
    assert "aiohttp 3.14.5: PYSEC-2099-1 (fixed in 3.14.6)" in verdict.lines


def test_an_ignored_vulnerability_passes_by_any_of_its_ids():
    report = {"dependencies": [{"name": "aiohttp", "version": "3.14.5", "vulns": [VULN]}]}
    assert judge(report, {"GHSA-xxxx-yyyy-zzzz": ("2026-12-01", "the client never parses multipart")}).ok


def test_a_dependency_that_could_not_be_audited_fails():
    skipped = {"name": "azure-core", "skip_reason": "Dependency not found on PyPI"}
    verdict = judge({"dependencies": [*CLEAN["dependencies"], skipped]})
    assert not verdict.ok and any("azure-core: not audited" in line for line in verdict.lines)


def test_a_report_that_leaves_out_a_pin_fails():
    # An empty or cut report (pip-audit resolving something else) proves nothing.
    pinned = [("aiohttp", "3.14.5"), ("azure-core", "1.41.0")]
    assert judge(CLEAN, pinned=pinned[:1]).ok
    verdict = judge(CLEAN, pinned=pinned)
    assert not verdict.ok and "azure-core 1.41.0: not in the report" in verdict.lines
    assert not judge({"dependencies": []}, pinned=pinned).ok


def test_pins_are_every_pinned_line_with_names_normalised():
    text = (
        "# runtime\nAzure_Core==1.41.0  # why\nmsgraph-sdk == 1.65.0\nfoo[bar]==1; python_version>'3'\n-r x\n"
    )
    assert pins(text) == [("azure-core", "1.41.0"), ("msgraph-sdk", "1.65.0"), ("foo", "1")]
    assert len(pins(REQUIREMENTS.read_text())) >= 8  # every runtime dependency is audited


def test_unreachable_data_is_skipped_unless_the_audit_is_required(monkeypatch, capsys):
    # PyPI's API is not asked here: the decision after its answer is what is tested.
    monkeypatch.setattr(audit_requirements, "data_reachable", lambda name, version: False)
    assert audit_requirements.main(env={}) == 0
    assert capsys.readouterr().out.startswith("pip-audit: SKIPPED")
    assert audit_requirements.main(env={"SMTPAUTH_AUDIT_REQUIRED": "1"}) == 1
    assert "SMTPAUTH_AUDIT_REQUIRED=1" in capsys.readouterr().err


@pytest.mark.parametrize("stdout", ["", "Traceback (most recent call last):"])
def test_output_that_is_not_a_report_fails(monkeypatch, capsys, stdout):
    # pip-audit itself needs PyPI's API: what it printed is given, the verdict is tested.
    done = subprocess.CompletedProcess([], 1, stdout=stdout, stderr="pip-audit: could not resolve")
    monkeypatch.setattr(audit_requirements, "data_reachable", lambda name, version: True)
    monkeypatch.setattr(audit_requirements.subprocess, "run", lambda *a, **k: done)
    assert audit_requirements.main(env={}) == 1
    assert "could not resolve" in capsys.readouterr().err


def test_every_ignore_is_dated_and_justified():
    for vuln, (day, reason) in IGNORED.items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day), vuln
        assert len(reason.split()) >= 4, vuln


def test_the_probe_asks_about_a_pin_of_requirements_txt():
    name, version = first_pin(REQUIREMENTS.read_text())
    assert f"{name}=={version}" in REQUIREMENTS.read_text()


def test_every_nosec_names_its_check_and_says_why_on_the_line_above():
    # bandit reads every word after "nosec" as a check id, so the reason sits above.
    root = REQUIREMENTS.parent
    scanned = [root / "function_app.py"]  # what bandit scans (the Makefile's lint target)
    for folder in ("shared", "sim", "bench", "tools"):
        scanned += sorted((root / folder).rglob("*.py"))
    bare = []
    for path in scanned:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "# nosec" not in line:
                continue
            named = re.search(r"# nosec B\d{3}(, B\d{3})*$", line)
            reason = number > 0 and lines[number - 1].strip().startswith("#")
            if not (named and reason):
                bare.append(f"{path.relative_to(root)}:{number + 1}")
    assert bare == []


def test_the_nosec_check_reads_what_bandit_scans():
    makefile = (REQUIREMENTS.parent / "Makefile").read_text()
    (targets,) = re.findall(r"bandit [^\n]*? -r ([^\n]+)", makefile)
    assert set(targets.split()) == {"shared", "sim", "bench", "tools", "function_app.py"}
