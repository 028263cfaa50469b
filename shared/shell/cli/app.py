"""The parser and the entry point: each command group registers itself and its
handler; errors the admin can act on end in one line and exit 2."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from azure.core.exceptions import AzureError

from shared.core.commands import CLI
from shared.shell.cli import check, exception, plan, teams, tenant, trail
from shared.shell.cli.args import EXIT_ERROR, UsageError
from shared.shell.settings import Settings, SettingsError
from shared.store.records import RecordError

Handler = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
# In the order `--help` lists them.
GROUPS = (check, tenant, exception, plan, trail, teams)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=CLI,
        description="SMTP AUTH Guard: keep SMTP AUTH off in Exchange Online, with approved exceptions.",
        epilog="Settings come from the environment: AzureWebJobsStorage, SMTPAUTH_EXCHANGE_URL, "
        "SMTPAUTH_GRAPH_URL, SMTPAUTH_HOME_TENANT, AZURE_CLIENT_ID. Exit codes: 0 compliant, "
        "1 drift found, 2 could not check or bad input.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Handler = args.run
    try:
        settings = Settings.from_env()
        return asyncio.run(run(settings, args))
    except (UsageError, SettingsError, RecordError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except AzureError as exc:
        print(f"error: {exc.message if getattr(exc, 'message', None) else exc}", file=sys.stderr)
        return EXIT_ERROR
