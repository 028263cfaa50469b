"""``exception add|list|remove``: approved per-mailbox exceptions."""

from __future__ import annotations

import argparse
import sys

from azure.core.exceptions import AzureError

from shared.core.commands import tenant_add
from shared.core.model import MailboxException, TenantLoad
from shared.shell import report
from shared.shell.cli.args import (
    EXIT_ERROR,
    EXIT_OK,
    UsageError,
    address_arg,
    date_arg,
    needs_rows,
    reason_arg,
    tenant_arg,
    text_arg,
)
from shared.shell.cli.session import cli_runtime
from shared.shell.cli.terminal import say
from shared.shell.settings import Settings
from shared.shell.unreachable import EXCHANGE, ServiceUnreachable, is_connection_error
from shared.store.rows import exception_row_key


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exc = commands.add_parser("exception", help="approved per-mailbox exceptions")
    exc.set_defaults(run=run)
    actions = exc.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="approve SMTP AUTH for one mailbox until a date")
    add.add_argument("--tenant", type=tenant_arg, required=True)
    add.add_argument("--mailbox", type=address_arg, required=True, help="the mailbox's address")
    add.add_argument("--reason", type=reason_arg, required=True, help="why it needs SMTP AUTH (device, app)")
    add.add_argument("--approver", type=address_arg, required=True, help="who approved it")
    add.add_argument("--ticket", type=text_arg, help="change or ticket reference")
    add.add_argument("--expires", type=date_arg, required=True, help="last day it holds, YYYY-MM-DD (UTC)")
    listing = actions.add_parser("list", help="list a tenant's exceptions")
    listing.add_argument("--tenant", type=tenant_arg, required=True)
    listing.set_defaults(needs=needs_rows)
    remove = actions.add_parser("remove", help="remove a mailbox's exception")
    remove.add_argument("--tenant", type=tenant_arg, required=True)
    remove.add_argument("--mailbox", required=True, help="address or GUID")
    remove.set_defaults(needs=needs_rows)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        loads = await services.desired.load(args.tenant)
        if args.action == "list" and loads:
            # What parses is shown even when the tenant row does not: the rows are there.
            return _list(loads[0])
        if not loads or loads[0].policy is None:
            raise UsageError(
                f"tenant {args.tenant} has no tenant row: add it first with {tenant_add(args.tenant)}"
            )
        if args.action == "add":
            today = services.clock().date()
            if args.expires < today:
                raise UsageError(f"--expires {args.expires} is in the past (today is {today} UTC)")
            async with services.clients.use(args.tenant) as client:
                try:
                    mailbox = await client.exchange.find_mailbox(args.mailbox)
                except AzureError as failure:
                    if is_connection_error(failure):
                        raise ServiceUnreachable(EXCHANGE, failure) from failure
                    raise
            if mailbox is None:
                raise UsageError(f"no mailbox {args.mailbox!r} in tenant {args.tenant}")
            exc = MailboxException(
                row_key=exception_row_key(mailbox.guid, mailbox.address),
                mailbox=mailbox.address.lower(),
                mailbox_guid=mailbox.guid.lower(),
                reason=args.reason,
                approver=args.approver,
                ticket=args.ticket,
                expires=args.expires,
            )
            await services.desired.put_exception(args.tenant, exc)
            print(say(f"exception recorded for {exc.mailbox} (GUID {exc.mailbox_guid}) until {exc.expires}"))
        else:
            removed = await services.desired.remove_exception(args.tenant, args.mailbox)
            if not removed:
                raise UsageError(f"no exception for {args.mailbox!r} in tenant {args.tenant}")
            print(say(f"removed {removed:,} exception(s) for {args.mailbox}"))
    return EXIT_OK


def _list(load: TenantLoad) -> int:
    """The exceptions that parse, then each row error: exit 2 when there is one, as the
    listing may lack a broken row and the checks say "could not check" until it is fixed."""
    rows = [("MAILBOX", "GUID", "EXPIRES", "APPROVER", "TICKET", "REASON")]
    rows += [
        (e.mailbox, e.mailbox_guid or "-", e.expires.isoformat(), e.approver, e.ticket or "-", e.reason)
        for e in load.exceptions
    ]
    print("\n".join(report.table(rows)) if len(rows) > 1 else "no exceptions")
    for error in load.errors:
        print(f"PROBLEM: {say(error)}", file=sys.stderr)
    if not load.errors:
        return EXIT_OK
    print(
        f"the desired state of tenant {load.tenant_id} does not validate: it is reported 'could not "
        "check' until these rows are fixed (docs/desired-state.md)",
        file=sys.stderr,
    )
    return EXIT_ERROR
