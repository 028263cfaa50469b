"""The dependency audit in `make lint` fails closed on what pip-audit reports."""

from __future__ import annotations

import re

from tools.audit_requirements import IGNORED, REQUIREMENTS, first_pin, judge

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
    bare = []
    for folder in ("shared", "sim", "bench", "tools"):
        for path in sorted((root / folder).rglob("*.py")):
            lines = path.read_text().splitlines()
            for number, line in enumerate(lines):
                if "# nosec" not in line:
                    continue
                named = re.search(r"# nosec B\d{3}(, B\d{3})*$", line)
                reason = number > 0 and lines[number - 1].strip().startswith("#")
                if not (named and reason):
                    bare.append(f"{path.relative_to(root)}:{number + 1}")
    assert bare == []
