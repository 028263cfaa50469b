"""What `azd deploy` would package (.funcignore, gitignore syntax as Core Tools and
azd read it): the triggers, host.json, requirements.txt and shared/; never tests, the
simulator, benchmarks, docs, infra, node_modules, caches or dev files."""

from __future__ import annotations

import shutil
import subprocess

import pathspec

from tests.infra.bicep import ROOT

GIT = shutil.which("git") or "git"
DEPLOYED_TOP = {"function_app.py", "host.json", "requirements.txt", "shared"}


def deployed() -> list[str]:
    spec = pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text().splitlines())
    listed = subprocess.run(
        [GIT, "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    files = [f for f in listed if (ROOT / f).is_file()]
    return sorted(f for f in files if not spec.match_file(f))


def test_only_the_app_is_deployed():
    files = deployed()
    assert {f.split("/")[0] for f in files} == DEPLOYED_TOP, files
    assert {"function_app.py", "host.json", "requirements.txt", "shared/shell/settings.py"} <= set(files)


def test_the_package_holds_no_dev_file():
    spec = pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text().splitlines())
    for path in ("tests/conftest.py", "sim/app.py", "bench/run.py", "tools/audit_requirements.py", "docs/permissions.md", "infra/main.bicep",
                 "node_modules/x/index.js", "requirements-dev.txt", ".venv/bin/python", "shared/__pycache__/a.pyc",
                 "local.settings.json", ".git/config", "Makefile"):  # fmt: skip
        assert spec.match_file(path), path
