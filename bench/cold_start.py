"""Cold start: what a fresh Functions worker pays to import the app, measured in
fresh interpreters (one per sample, .pyc files present), interleaved so drift in
the machine hits every target alike.

Targets, each timed from just before its import to just after (interpreter
start-up itself is the same for all and not counted):

* ``azure.functions`` alone: the floor any Python function app pays;
* ``function_app``: what the host imports to index the functions;
* ``function_app`` + the job: also what the first timer run imports
  (shared.shell.jobs, azure.identity.aio, Table Storage, the aiohttp transport);
* the worker's OpenTelemetry setup: in Azure (host.json ``telemetryMode``) the Python
  worker imports ``azure.monitor.opentelemetry`` and configures it before it indexes
  the app; the app itself never imports it, so this is what that mode adds on top.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Must not be imported until used: heavy, and not needed to index or run a check.
LAZY = ("msgraph", "azure.identity", "azure.data.tables", "aiohttp", "opentelemetry")

_SNIPPET = """
import json, sys, time
start = time.perf_counter()
{imports}
elapsed = time.perf_counter() - start
with open("/proc/self/statm") as statm:
    rss = int(statm.read().split()[1]) * {page_size}
lazy = sorted(p for p in {lazy!r} if any(m == p or m.startswith(p + ".") for m in sys.modules))
print(json.dumps({{"s": elapsed, "rss_mb": rss / 2**20, "loaded": lazy, "modules": len(sys.modules)}}))
"""

TARGETS: dict[str, str] = {
    "azure.functions alone": "import azure.functions",
    "function_app": "import function_app",
    "function_app + first run's imports": (
        "import function_app\nimport shared.shell.jobs, azure.identity.aio, azure.core.pipeline.transport._aiohttp"
    ),
    "function_app + the worker's OpenTelemetry setup": (
        "import azure.monitor.opentelemetry\nimport function_app"
    ),
}


@dataclass(frozen=True)
class Target:
    name: str
    median_s: float
    rss_mb: float
    loaded: list[str]
    modules: int
    samples: int


def _sample(imports: str) -> dict[str, Any]:
    import resource

    code = _SNIPPET.format(imports=imports, page_size=resource.getpagesize(), lazy=LAZY)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(samples: int = 9) -> list[Target]:
    for imports in TARGETS.values():
        _sample(imports)  # warm-up: writes any missing .pyc and warms the page cache
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
    for _ in range(samples):
        for name, imports in TARGETS.items():
            runs[name].append(_sample(imports))
    return [
        Target(
            name=name,
            median_s=statistics.median(r["s"] for r in rs),
            rss_mb=statistics.median(r["rss_mb"] for r in rs),
            loaded=rs[-1]["loaded"],
            modules=rs[-1]["modules"],
            samples=len(rs),
        )
        for name, rs in runs.items()
    ]


if __name__ == "__main__":
    for target in measure():
        print(target)
