"""``check``: check tenants now and record the run."""

from __future__ import annotations

import argparse
import json
import sys

from shared.core.commands import tenant_add, tenant_set
from shared.shell import report
from shared.shell.cli import terminal
from shared.shell.cli.args import UsageError, tenant_arg
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.cycle import run_cycle
from shared.shell.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser("check", help="check tenants now and record the run")
    check.add_argument("--tenant", type=tenant_arg, help="only this tenant (GUID or initial domain)")
    check.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
    check.set_defaults(run=run)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """A check from here records its changes in the history like a scheduled one, so
    it queues what they tell (or the next scheduled run would see nothing new and
    nobody would hear). Sending is left to the timer and its managed identity."""
    progress = terminal.progress()
    monitored = 0
    try:
        async with cli_runtime(settings) as runtime:
            tenant = await resolve_tenant(runtime.desired, args.tenant) if args.tenant else None
            cycle = await run_cycle(runtime, tenant, deliver=False, progress=progress)
            if not cycle.results and not tenant:
                monitored = len(await runtime.desired.load())
    finally:
        progress.clear()  # before the summary, an error or the interrupt line
    results = cycle.results
    if tenant and not results:
        raise UsageError(f"tenant {tenant} is not monitored (add it: {tenant_add(tenant)})")
    if not results:
        raise UsageError(
            f"no tenant to check: {monitored} monitored, all disabled (enable one: {tenant_set('TENANT', '--enabled')})"
            if monitored
            else f"no tenant is monitored: add one with {tenant_add()}"
        )
    if cycle.queued:
        print(f"{cycle.queued:,} notification(s) queued; the next scheduled run sends them", file=sys.stderr)
    if args.json:
        print(json.dumps(report.document(results), indent=2))
    else:
        print(report.text(results), end="")
    return report.exit_code(results)
