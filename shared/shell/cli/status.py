"""``status``: the health view, every monitored tenant's checks and the timer's own
last run, as recorded (no Exchange call)."""

from __future__ import annotations

import argparse
import json

from shared.shell import health_report
from shared.shell.cli.args import needs_rows
from shared.shell.cli.session import cli_runtime
from shared.shell.monitor import read_view
from shared.shell.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status",
        help="every tenant's state, last check, last success, open findings, whether it is overdue",
        description="The health view: what the scheduled checks recorded, read from Table Storage. "
        "Exit codes: 0 all healthy, 1 some tenant has drift, cannot be checked or is overdue, "
        "or the timer is late, 2 the view could not be read.",
    )
    status.add_argument("--json", action="store_true", help="print the health function's JSON document")
    status.set_defaults(run=run, needs=needs_rows)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as runtime:
        view = await read_view(runtime)
    if args.json:
        print(json.dumps(health_report.document(view), indent=2))
    else:
        print(health_report.text(view), end="")
    return health_report.exit_code(view)
