"""``make lint``'s dependency audit: pip-audit on requirements.txt (what runs in Azure).

pip-audit reads its vulnerability data from PyPI's JSON API. Where that API cannot be
reached (a machine behind a registry mirror that serves only the package index), an
audit would report every dependency "not found on PyPI" and prove nothing, so the
step says so and passes, unless ``SMTPAUTH_AUDIT_REQUIRED=1`` (a CI with PyPI's API
sets it, so an outage there fails instead of passing quietly); wherever the data is
there it fails closed: a known vulnerability, a dependency that could not be
audited, or a pin the report does not mention fails lint. A finding that does not
apply is listed in IGNORED with the date it was looked at and why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
PYPI_JSON = "https://pypi.org/pypi/{name}/{version}/json"

# Vulnerability id -> (the date it was judged, why it does not apply). Empty today.
IGNORED: Mapping[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    lines: tuple[str, ...]


def pins(text: str) -> list[tuple[str, str]]:
    """Every ``name==version`` of a requirements file, names normalised (PEP 503)."""
    found = []
    for line in text.splitlines():
        spec = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in spec:
            name, version = spec.split("==", 1)
            found.append((_normal(name.split("[", 1)[0]), version.strip()))
    return found


def first_pin(text: str) -> tuple[str, str]:
    """The first ``name==version`` of a requirements file."""
    found = pins(text)
    if not found:
        raise ValueError("requirements.txt pins nothing (name==version)")
    return found[0]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def data_reachable(name: str, version: str, timeout_s: float = 15.0) -> bool:
    """Whether PyPI's JSON API (pip-audit's vulnerability source) answers for a pin."""
    url = PYPI_JSON.format(name=name, version=version)
    try:
        # A fixed https URL built from the requirements file, never a user's.
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310  # nosec B310
            return "vulnerabilities" in json.load(answer)
    except (urllib.error.URLError, TimeoutError, ValueError):
        return False


def judge(
    report: Mapping[str, Any],
    ignored: Mapping[str, tuple[str, str]] = IGNORED,
    pinned: Sequence[tuple[str, str]] = (),
) -> Verdict:
    """Pass only if every dependency was audited, every pin is in the report (an empty
    or cut report proves nothing) and none has a vulnerability that is not ignored
    (pip-audit's JSON report)."""
    problems: list[str] = []
    dependencies = report.get("dependencies", [])
    seen = {_normal(str(dep.get("name", ""))) for dep in dependencies}
    problems += [f"{name} {version}: not in the report" for name, version in pinned if name not in seen]
    for dep in dependencies:
        where = f"{dep['name']} {dep.get('version', '')}".strip()
        if "skip_reason" in dep:
            problems.append(f"{where}: not audited ({dep['skip_reason']})")
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            if not any(i in ignored for i in ids):
                fix = ", ".join(vuln.get("fix_versions", [])) or "none yet"
                problems.append(f"{where}: {vuln['id']} (fixed in {fix})")
    if problems:
        return Verdict(False, ("pip-audit: requirements.txt fails the audit:", *problems))
    return Verdict(True, ("pip-audit: no known vulnerability in requirements.txt",))


def main(argv: Sequence[str] = (), env: Mapping[str, str] = os.environ) -> int:
    text = REQUIREMENTS.read_text()
    pinned = pins(text)
    name, version = first_pin(text)
    if not data_reachable(name, version):
        if env.get("SMTPAUTH_AUDIT_REQUIRED", "").strip() == "1":
            print(
                "pip-audit: FAILED, PyPI's vulnerability data (its JSON API) cannot be reached "
                "and SMTPAUTH_AUDIT_REQUIRED=1 says the audit must run",
                file=sys.stderr,
            )
            return 1
        print(
            "pip-audit: SKIPPED, PyPI's vulnerability data (its JSON API) cannot be reached from "
            "this machine; the audit runs, and fails closed, where it can (docs/security.md)"
        )
        return 0
    ignore = [arg for vuln in IGNORED for arg in ("--ignore-vuln", vuln)]
    command = [sys.executable, "-m", "pip_audit", "-r", str(REQUIREMENTS), "-f", "json"]
    command += ["--progress-spinner", "off", *ignore, *argv]
    # This interpreter, pip-audit and fixed arguments: no shell, nothing from outside.
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"pip-audit failed (exit {done.returncode}):\n{done.stderr.strip()}", file=sys.stderr)
        return 1
    verdict = judge(report, pinned=pinned)
    print("\n".join(verdict.lines), file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
