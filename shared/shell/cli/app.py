"""The parser and the entry point: each command group registers itself and its
handler; errors the admin can act on end in one line and exit 2."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from azure.core.exceptions import AzureError

from shared.adapters.credentials import IdentitySettingError
from shared.core.commands import CLI
from shared.shell.cli import check, exception, plan, status, teams, tenant, terminal, trail, usage
from shared.shell.cli.args import EXIT_ERROR, EXIT_INTERRUPTED, Parser, UsageError, needs_all
from shared.shell.settings import Settings, SettingsError, SettingsScope
from shared.shell.unreachable import ServiceUnreachable, is_connection_error
from shared.store.records import RecordError

Handler = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
# In the order `--help` lists them.
GROUPS = (check, status, tenant, exception, plan, trail, teams, usage)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=CLI,
        description="SMTP AUTH Guard: keep SMTP AUTH off in Exchange Online, with approved exceptions.",
        epilog="Settings come from the environment: AzureWebJobsStorage, SMTPAUTH_EXCHANGE_URL, "
        "SMTPAUTH_GRAPH_URL, SMTPAUTH_HOME_TENANT, AZURE_CLIENT_ID. Exit codes: 0 compliant, "
        "1 drift found, 2 could not check or bad input.",
    )
    parser.set_defaults(needs=needs_all)  # a command that reads fewer settings says so
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Handler = args.run
    terminal.setup_logging()
    try:
        settings = read_settings(args.needs)
        return asyncio.run(run(settings, args))
    except KeyboardInterrupt:
        # asyncio.run has cancelled the command, so its clients are closed; what a check
        # recorded before the interrupt stays recorded.
        terminal.error("interrupted")
        return EXIT_INTERRUPTED
    except (UsageError, SettingsError, IdentitySettingError, RecordError, ServiceUnreachable) as exc:
        terminal.error(exc)
        return EXIT_ERROR
    except AzureError as exc:
        text = exc.message if getattr(exc, "message", None) else exc
        terminal.error(f"connection failed: {text}" if is_connection_error(exc) else text)
        return EXIT_ERROR


def read_settings(needs: Callable[[str], bool]) -> Settings:
    """The settings a command needs; one it does not need may be malformed (said once,
    as a warning) without stopping it."""
    scope = SettingsScope(os.environ, needs)
    settings = Settings.from_env(scope)
    for problem in scope.skipped:
        terminal.warn(f"{problem} (not used by this command; every scheduled run refuses it)")
    return settings
