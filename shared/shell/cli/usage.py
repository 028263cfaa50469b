"""``usage``: who signed in with SMTP AUTH in the last N days, with Basic auth or
not, joined with each mailbox's SMTP AUTH state and its exception; one tenant or every
enabled one in one report. Reads only: nothing is written, nothing is queued."""

from __future__ import annotations

import argparse
import asyncio
import json

from shared.core.commands import tenant_add
from shared.core.limits import EVIDENCE_DAYS
from shared.core.model import Evidence, TenantLoad
from shared.core.smtp_usage import TenantUsage
from shared.shell import usage_report
from shared.shell.cli.args import UsageError, tenant_arg, whole_number
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.runtime import Runtime
from shared.shell.settings import Settings
from shared.shell.usage_read import read_usage


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser(
        "usage",
        help="who still uses SMTP AUTH (and Basic auth), with each mailbox's state and exception",
        description="Successful SMTP AUTH sign-ins of the last N days per account, joined with "
        "the mailbox's SMTP AUTH state (org, override, effective) and its exception. Exit 0 when "
        "every tenant was read whole, 2 when one was not (e.g. sign-in logs without Entra ID P1).",
    )
    usage.add_argument("--tenant", type=tenant_arg, help="only this tenant (GUID or initial domain)")
    usage.add_argument(
        "--days",
        type=whole_number(EVIDENCE_DAYS),
        default=EVIDENCE_DAYS.default,
        help=f"the window, {EVIDENCE_DAYS.low} to {EVIDENCE_DAYS.high} days (default "
        f"{EVIDENCE_DAYS.default}: the sign-in logs keep 30)",
    )
    form = usage.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
    form.add_argument("--csv", action="store_true", help="print CSV, one row per account, a tenant column")
    usage.set_defaults(run=run)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as runtime:
        tenant = await resolve_tenant(runtime.desired, args.tenant) if args.tenant else None
        loads = await runtime.desired.load(tenant)
        if not tenant:
            loads = [load for load in loads if load.enabled]
        if not loads:
            where = f"tenant {tenant} is not monitored" if tenant else "no enabled tenant is monitored"
            raise UsageError(f"{where}: add one with {tenant_add(tenant or 'TENANT')}")
        reports = await _read_all(runtime, loads, args.days, settings.max_parallel_tenants)
    if args.json:
        print(json.dumps(usage_report.document(reports), indent=2))
    elif args.csv:
        print(usage_report.to_csv(reports), end="")
    else:
        print(usage_report.text(reports), end="")
    return usage_report.exit_code(reports)


async def _read_all(runtime: Runtime, loads: list[TenantLoad], days: int, parallel: int) -> list[TenantUsage]:
    now = runtime.clock()
    gate = asyncio.Semaphore(parallel)

    async def one(load: TenantLoad) -> TenantUsage:
        policy = load.policy
        if policy is None:  # no usable tenant row: said, not skipped
            problem = "desired state is malformed: " + "; ".join(load.errors)
            unread = Evidence(False, days, problem="not read: " + problem)
            return TenantUsage(load.tenant_id, load.tenant_id, days, unread, error=problem)
        async with gate:
            return await read_usage(runtime, policy, days, now)

    return list(await asyncio.gather(*(one(load) for load in loads)))
