"""``plan``: what remediation would do now, and why; changes nothing."""

from __future__ import annotations

import argparse
import json

from shared.core.commands import tenant_add
from shared.shell import report
from shared.shell.cli.args import UsageError, tenant_option
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.engine import plan_tenant
from shared.shell.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = commands.add_parser("plan", help="show what remediation would do now, and why; changes nothing")
    tenant_option(plan)
    plan.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
    plan.set_defaults(run=run)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Exits like check: 0 nothing to do, 1 drift or changes planned, 2 could not check."""
    async with cli_runtime(settings) as services:
        tenant = await resolve_tenant(services.desired, args.tenant)
        loads = await services.desired.load(tenant)
        if not loads:
            raise UsageError(f"tenant {tenant} is not monitored (add it: {tenant_add(tenant)})")
        result = await plan_tenant(loads[0], services)
    if args.json:
        print(json.dumps(report.plan_document(result), indent=2))
    else:
        print(report.plan_text(result), end="")
    return report.plan_exit_code(result)
