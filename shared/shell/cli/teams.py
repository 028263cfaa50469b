"""``teams test``: post a small card through a tenant's Teams webhook.

A Workflows webhook answers 202 before its flow runs, so a card the flow rejects is
never reported to the sender: "accepted" is all this command (or any run) can know.
It says so, and gives the admin a test id to look for in the channel.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from shared.adapters.teams_webhook import describe, webhook_url
from shared.core.commands import CLI, tenant_add, tenant_set
from shared.core.delivery import DeliveryError
from shared.notify import card
from shared.notify.probe import TITLE, compose_probe
from shared.notify.text import clean, when
from shared.shell.cli.args import EXIT_ERROR, EXIT_OK, UsageError, tenant_arg
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    teams = commands.add_parser("teams", help="the tenants' Teams webhooks")
    teams.set_defaults(run=run)
    actions = teams.add_subparsers(dest="action", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test",
        help="post a small test card through a tenant's webhook, then look for it in the channel",
        description="Posts a small test card through the webhook whose URL is in the app setting the "
        "tenant row names (read from this process's environment, as the function app reads it). "
        "Workflows accepts a post before its flow runs: only the channel shows whether it arrived.",
    )
    test.add_argument("--tenant", type=tenant_arg, required=True)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        args.tenant = await resolve_tenant(services.desired, args.tenant)
        loads = await services.desired.load(args.tenant)
        if not loads or loads[0].policy is None:
            raise UsageError(
                f"tenant {args.tenant} has no tenant row: add it first with {tenant_add(args.tenant)}"
            )
        policy = loads[0].policy
        setting = policy.notify_teams_setting
        if not setting:
            raise UsageError(
                f"tenant {args.tenant} names no Teams webhook setting: set one with "
                f"{tenant_set(args.tenant, '--teams-webhook-setting NAME')}"
            )
        try:
            url = webhook_url(setting, os.environ)
        except DeliveryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(
                f"  {CLI} reads {setting} from this shell's environment, as the function app reads it "
                "from its app settings: export it here with the webhook URL itself (not a Key Vault "
                "reference), or run the command where the setting is.",
                file=sys.stderr,
            )
            return EXIT_ERROR
        now = services.clock()
        probe_id = secrets.token_hex(3)
        name = policy.initial_domain or policy.tenant_id
        message = compose_probe(policy.tenant_id, name, setting, now, probe_id)
        where = f"app setting {setting} ({describe(url)})"
        try:
            await services.notifier.teams.send(
                url, card.payload(message, settings.card_max_kb * 1024), setting=setting
            )
        except DeliveryError as exc:
            print(f"error: not accepted: {exc}", file=sys.stderr)
            return EXIT_ERROR
    print(f"Accepted: the webhook in {where} took the test card for {clean(name)}.")
    print(
        "  That means its flow accepted the request, not that the card reached the channel: Workflows "
        "answers before the flow runs, and a card the flow rejects fails only in the flow's run history."
    )
    print(f'  Look in the channel for "{TITLE}", test id {probe_id}, sent {when(now)}.')
    print(
        "  Not there within a few minutes? In Teams, open Workflows, the flow, and its run history: "
        "the failed run says why (the flow's owner left, a private channel, a card it could not post)."
    )
    return EXIT_OK
