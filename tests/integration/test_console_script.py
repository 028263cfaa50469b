"""`pip install .` gives a working `smtp-auth-guard` command: built offline from a copy
of the sources (the build backend is the one requirements-dev.txt installs), into a
throwaway target, and run from a directory that is not the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "smtp-auth-guard"


def run(
    args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package installed with pip into a target folder; the source copy keeps the
    build's by-products (build/, *.egg-info) out of the work tree."""
    base = tmp_path_factory.mktemp("package")
    src, target = base / "src", base / "target"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "shared", src / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    built = run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", target, src],
        cwd=base,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    return target


def elsewhere_env(target: Path) -> dict[str, str]:
    # Only the installed copy is importable: not the repository (not the working
    # directory, not on PYTHONPATH); the venv still provides the dependencies.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return env | {"PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}


def test_installed_command_runs_from_any_directory(installed, tmp_path):
    script = installed / "bin" / COMMAND
    assert script.is_file()
    out = run([script, "--help"], cwd=tmp_path, env=elsewhere_env(installed))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: {COMMAND} ")
    assert "check" in out.stdout and "exception" in out.stdout

    sub = run([script, "exception", "add", "--help"], cwd=tmp_path, env=elsewhere_env(installed))
    assert sub.returncode == 0 and sub.stdout.startswith(f"usage: {COMMAND} exception add")

    where = run(
        [sys.executable, "-c", "import shared.shell.cli as m; print(m.__file__)"],
        cwd=tmp_path,
        env=elsewhere_env(installed),
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr


def test_only_the_product_is_installed_with_the_runtime_pins(installed):
    assert {p.name for p in installed.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")} == {
        "bin",
        "shared",
    }
    (dist_info,) = installed.glob("smtp_auth_guard-*.dist-info")
    metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
    requires = sorted(
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    )
    pins = sorted(
        line.strip()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert requires == pins
    entry_points = (dist_info / "entry_points.txt").read_text(encoding="utf-8")
    assert f"{COMMAND} = shared.shell.cli:main" in entry_points


def test_python_dash_m_shared_keeps_working():
    out = run([sys.executable, "-m", "shared", "--help"], cwd=ROOT)
    assert out.returncode == 0 and out.stdout.startswith(f"usage: {COMMAND} ")
