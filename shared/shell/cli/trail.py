"""``history`` and ``audit``: what earlier runs recorded."""

from __future__ import annotations

import argparse
import json

from shared.core.limits import AUDIT_LIMIT, HISTORY_LIMIT
from shared.shell import report
from shared.shell.cli.args import EXIT_OK, needs_rows, tenant_option, whole_number
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="the remediation audit trail of a tenant")
    tenant_option(audit)
    audit.add_argument(
        "--limit",
        type=whole_number(AUDIT_LIMIT),
        default=AUDIT_LIMIT.default,
        metavar="N",
        help=f"newest N rows, {AUDIT_LIMIT.low}-{AUDIT_LIMIT.high} (default {AUDIT_LIMIT.default})",
    )
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit.set_defaults(run=run_audit, needs=needs_rows)

    hist = commands.add_parser("history", help="recent runs and finding changes of a tenant")
    tenant_option(hist)
    hist.add_argument(
        "--limit",
        type=whole_number(HISTORY_LIMIT),
        default=HISTORY_LIMIT.default,
        metavar="N",
        help=f"newest N runs and changes, {HISTORY_LIMIT.low}-{HISTORY_LIMIT.high} "
        f"(default {HISTORY_LIMIT.default})",
    )
    hist.set_defaults(run=run_history, needs=needs_rows)


async def run_history(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        tenant = await resolve_tenant(services.desired, args.tenant)
        runs = await services.history.runs(tenant, args.limit)
        events = await services.history.events(tenant, args.limit)
    print(report.history_text(runs, events), end="")
    return EXIT_OK


async def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        tenant = await resolve_tenant(services.desired, args.tenant)
        records = await services.remediator.audit.list(tenant, args.limit)
    if args.json:
        print(json.dumps(report.audit_json(records), indent=2))
    else:
        print(report.audit_text(records), end="")
    return EXIT_OK
