"""``exception add|list|remove``: approved per-mailbox exceptions."""

from __future__ import annotations

import argparse
import sys

from azure.core.exceptions import AzureError

from shared.core.commands import tenant_add
from shared.core.limits import EVIDENCE_DAYS
from shared.core.model import MailboxException, TenantLoad
from shared.core.validation import ValidationError, check_expiry
from shared.shell import report
from shared.shell.cli.args import (
    EXIT_ERROR,
    EXIT_OK,
    UsageError,
    address_arg,
    date_arg,
    needs_rows,
    reason_arg,
    refused,
    tenant_option,
    text_arg,
    whole_number,
)
from shared.shell.cli.exception_suggest import print_suggestions
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.cli.terminal import say
from shared.shell.settings import Settings
from shared.shell.unreachable import EXCHANGE, ServiceUnreachable, is_connection_error
from shared.shell.usage_read import read_usage
from shared.store.rows import RowError, exception_row_key

# The exception row's columns as the options that set them.
OPTIONS = {
    "Mailbox": "--mailbox",
    "MailboxGuid": "--mailbox",
    "Reason": "--reason",
    "Approver": "--approver",
    "Ticket": "--ticket",
    "Expires": "--expires",
}
# What `exception add` says changed when it updates an exception (field, label).
_FIELDS = (
    ("mailbox", "Mailbox"),
    ("reason", "Reason"),
    ("approver", "Approver"),
    ("ticket", "Ticket"),
    ("expires", "Expires"),
)


def _same_mailbox(old: MailboxException, new: MailboxException) -> bool:
    if old.mailbox_guid:
        return old.mailbox_guid == new.mailbox_guid
    return old.mailbox == new.mailbox  # a row typed by hand, without the GUID


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exc = commands.add_parser("exception", help="approved per-mailbox exceptions")
    exc.set_defaults(run=run)
    actions = exc.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="approve SMTP AUTH for one mailbox until a date")
    tenant_option(add)
    add.add_argument("--mailbox", type=address_arg, required=True, help="the mailbox's address")
    add.add_argument("--reason", type=reason_arg, required=True, help="why it needs SMTP AUTH (device, app)")
    add.add_argument("--approver", type=address_arg, required=True, help="who approved it")
    add.add_argument("--ticket", type=text_arg, help="change or ticket reference")
    add.add_argument("--expires", type=date_arg, required=True, help="last day it holds, YYYY-MM-DD (UTC)")
    listing = actions.add_parser("list", help="list a tenant's exceptions")
    tenant_option(listing)
    listing.set_defaults(needs=needs_rows)
    remove = actions.add_parser("remove", help="remove a mailbox's exception")
    tenant_option(remove)
    remove.add_argument("--mailbox", required=True, help="address or GUID")
    remove.set_defaults(needs=needs_rows)
    hint = actions.add_parser(
        "suggest",
        help="print exception add commands for mailboxes with SMTP AUTH on and recent use (approves nothing)",
    )
    tenant_option(hint)
    hint.add_argument(
        "--days",
        type=whole_number(EVIDENCE_DAYS),
        default=EVIDENCE_DAYS.default,
        help=f"how far back sign-ins count, {EVIDENCE_DAYS.low} to {EVIDENCE_DAYS.high} days",
    )


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        args.tenant = await resolve_tenant(services.desired, args.tenant)
        loads = await services.desired.load(args.tenant)
        if args.action == "list" and loads:
            # What parses is shown even when the tenant row does not: the rows are there.
            return _list(loads[0])
        if not loads or loads[0].policy is None:
            raise UsageError(
                f"tenant {args.tenant} has no tenant row: add it first with {tenant_add(args.tenant)}"
            )
        policy = loads[0].policy
        if args.action == "suggest":
            usage = await read_usage(services, policy, args.days, services.clock())
            return print_suggestions(usage, services.clock().date())
        if args.action == "add":
            try:
                check_expiry(args.expires, services.clock().date(), settings.max_exception_days)
            except ValidationError as problem:
                raise UsageError(f"--expires {problem}; nothing was written") from None
            async with services.clients.use(args.tenant, app_id=policy.app_id) as client:
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
                ticket=args.ticket or None,
                expires=args.expires,
            )
            before = [old for old in policy.exceptions if _same_mailbox(old, exc)]
            try:
                await services.desired.put_exception(args.tenant, exc)
            except RowError as bad:
                raise refused(bad, OPTIONS) from None
            # One exception per mailbox: a row for it under another key (typed by hand) goes.
            for old in before:
                if old.row_key != exc.row_key:
                    await services.desired.delete_row(args.tenant, old.row_key)
            _say_recorded(exc, before)
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


def _say_recorded(exc: MailboxException, before: list[MailboxException]) -> None:
    name = say(f"{exc.mailbox} (GUID {exc.mailbox_guid})")
    if not before:
        print(f"exception recorded for {name} until {exc.expires}")
        return
    old = before[0]
    changes = [
        (label, getattr(old, field), getattr(exc, field))
        for field, label in _FIELDS
        if getattr(old, field) != getattr(exc, field)
    ]
    if not changes and len(before) == 1:
        print(f"exception for {name} already recorded as given: no change")
        return
    print(f"exception for {name} updated (it already had one)")
    for label, was, now in changes:
        print(
            f"  {label}: {say('(none)' if was is None else was)} -> {say('(none)' if now is None else now)}"
        )
    if len(before) > 1:
        print(f"  {len(before) - 1} more row(s) for this mailbox merged into this one")
