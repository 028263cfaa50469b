"""cProfile of one product check (``shared.shell.jobs.scheduled_check``) in this fresh
process; prints one JSON line: the functions with the most own time, ours marked.

    python -m bench.profile_check [N]     (settings from the environment; top N rows)

Run against a simulator without latency, so the client's CPU is what shows. A first,
unprofiled check warms imports and the tables up; the second one is profiled.
cProfile adds a fixed cost per call, so functions called per mailbox look heavier
than they are: read the ranking, and take timings from the unprofiled scan runs.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import pstats
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OURS = (str(ROOT / "shared") + "/", str(ROOT / "function_app.py"))
WAITING = "<method 'poll' of 'select.epoll' objects>"  # the event loop idle, waiting on I/O


def _name(func: tuple[str, int, str]) -> tuple[str, bool]:
    filename, line, name = func
    ours = filename.startswith(OURS)
    if filename == "~":  # a builtin
        return name, False
    if "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif filename.startswith(str(ROOT)):
        filename = filename[len(str(ROOT)) + 1 :]
    else:
        filename = "stdlib " + Path(filename).name
    return f"{filename}:{line}({name})", ours


def top(profile: cProfile.Profile, limit: int) -> dict[str, Any]:
    stats = pstats.Stats(profile)
    rows = []
    ours_total = 0.0
    waiting = 0.0
    for func, (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        name, ours = _name(func)
        if name == WAITING:
            waiting += tottime
            continue
        if ours:
            ours_total += tottime
        rows.append({"function": name, "ours": ours, "calls": ncalls, "own_s": tottime, "cum_s": cumtime})
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return {
        "profiled_s": stats.total_tt,  # type: ignore[attr-defined]
        "waiting_s": waiting,
        "ours_own_s": ours_total,
        "top": rows[:limit],
        "top_ours": [r for r in rows if r["ours"]][:limit],
    }


def main(argv: list[str]) -> int:
    from azure.identity.aio import ManagedIdentityCredential  # noqa: F401  (import cost excluded)

    from shared.shell.jobs import scheduled_check
    from shared.shell.settings import Settings

    settings = Settings.from_env()
    asyncio.run(scheduled_check(settings))  # warm-up: imports, first-run writes
    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(scheduled_check(settings))
    profile.disable()
    print(json.dumps(top(profile, int(argv[0]) if argv else 12)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
