"""``smtp-auth-guard`` (or ``python -m shared``): manage desired state and run checks
from a workstation.

Exit codes (design contract): 0 compliant / done, 1 drift found, 2 could not check
or bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any, TypeVar

from azure.core.exceptions import AzureError

from shared.adapters.credentials import workstation_credential
from shared.core.commands import CLI, tenant_add
from shared.core.limits import DEFAULT_MAILBOX_FIX, EVIDENCE_DAYS, MAILBOX_FIX, MAX_CHANGES_PER_RUN, Bounds
from shared.core.model import EvidencePolicy, MailboxException, Mode, Status, TenantPolicy
from shared.core.validation import (
    ValidationError,
    check_domain,
    check_tenant_id,
    check_text,
    check_webhook_setting,
    check_whole_number,
    is_address,
)
from shared.shell import report
from shared.shell.cycle import run_cycle
from shared.shell.engine import plan_tenant
from shared.shell.runtime import Runtime, open_runtime
from shared.shell.settings import Settings, SettingsError
from shared.store.records import RecordError
from shared.store.rows import exception_row_key

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad input from the command line; the message says what and where."""


T = TypeVar("T")


def _arg(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a core.validation check: what the row loader would
    refuse on the next run is refused here, before anything is written."""

    def parse(value: str) -> T:
        try:
            return check(value)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _whole_number(bounds: Bounds) -> Callable[[str], int]:
    return _arg(lambda text: check_whole_number(text, bounds))


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _address(value: str) -> str:
    if not is_address(value.strip()):
        raise ValidationError(f"expected an email address, got {value!r}")
    return value.strip()


def _reason(value: str) -> str:
    text = check_text(value)
    if not text:
        raise ValidationError("must not be empty")
    return text


_tenant_arg = _arg(check_tenant_id)
_address_arg = _arg(_address)
_date_arg = _arg(_date)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=CLI,
        description="SMTP AUTH Guard: keep SMTP AUTH off in Exchange Online, with approved exceptions.",
        epilog="Settings come from the environment: AzureWebJobsStorage, SMTPAUTH_EXCHANGE_URL, "
        "SMTPAUTH_GRAPH_URL, SMTPAUTH_HOME_TENANT, AZURE_CLIENT_ID. Exit codes: 0 compliant, "
        "1 drift found, 2 could not check or bad input.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="check tenants now and record the run")
    check.add_argument("--tenant", type=_tenant_arg, help="only this tenant (GUID or initial domain)")
    check.add_argument("--json", action="store_true", help="print a JSON document instead of a table")

    tenant = commands.add_parser("tenant", help="monitored tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = tenant.add_parser("add", help="monitor a tenant (or update its row)")
    add.add_argument("--tenant", type=_tenant_arg, required=True, help="tenant GUID")
    add.add_argument(
        "--domain",
        type=_arg(check_domain),
        required=True,
        help="initial domain, e.g. contoso.onmicrosoft.com",
    )
    add.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.REPORT.value)
    add.add_argument(
        "--allow-org-smtp-auth",
        action="store_true",
        help="desired org value: SMTP AUTH ON for the organization (against policy; default off)",
    )
    add.add_argument("--notify-email", action="append", default=[], type=_address_arg, metavar="ADDRESS")
    add.add_argument(
        "--teams-webhook-setting",
        type=_arg(check_webhook_setting),
        metavar="NAME",
        help="name of the app setting that holds the webhook URL",
    )
    add.add_argument("--disabled", action="store_true", help="keep the row but do not check the tenant")
    add.add_argument(
        "--mailbox-fix",
        choices=list(MAILBOX_FIX),
        default=DEFAULT_MAILBOX_FIX,
        help="how remediation sets an unapproved mailbox: disable (explicitly off, default) or "
        "org-default ($null, follow the org)",
    )
    add.add_argument(
        "--evidence-days",
        type=_whole_number(EVIDENCE_DAYS),
        default=EVIDENCE_DAYS.default,
        metavar="N",
        help=f"sign-in evidence window, {EVIDENCE_DAYS.low}-{EVIDENCE_DAYS.high} days "
        f"(default {EVIDENCE_DAYS.default})",
    )
    add.add_argument(
        "--when-evidence-unavailable",
        choices=[p.value for p in EvidencePolicy],
        default=EvidencePolicy.HOLD.value,
        help="when sign-in logs cannot be read (no Entra ID P1): hold (default) or proceed",
    )
    add.add_argument(
        "--max-changes",
        type=_whole_number(MAX_CHANGES_PER_RUN),
        default=MAX_CHANGES_PER_RUN.default,
        metavar="N",
        help=f"most mailbox changes per run, {MAX_CHANGES_PER_RUN.low}-{MAX_CHANGES_PER_RUN.high} "
        f"(default {MAX_CHANGES_PER_RUN.default})",
    )
    tenant.add_parser("list", help="list monitored tenants")
    remove = tenant.add_parser("remove", help="stop monitoring a tenant (deletes its exceptions too)")
    remove.add_argument("--tenant", type=_tenant_arg, required=True)

    exc = commands.add_parser("exception", help="approved per-mailbox exceptions").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    eadd = exc.add_parser("add", help="approve SMTP AUTH for one mailbox until a date")
    eadd.add_argument("--tenant", type=_tenant_arg, required=True)
    eadd.add_argument("--mailbox", type=_address_arg, required=True, help="the mailbox's address")
    eadd.add_argument(
        "--reason", type=_arg(_reason), required=True, help="why it needs SMTP AUTH (device, app)"
    )
    eadd.add_argument("--approver", type=_address_arg, required=True, help="who approved it")
    eadd.add_argument("--ticket", type=_arg(check_text), help="change or ticket reference")
    eadd.add_argument("--expires", type=_date_arg, required=True, help="last day it holds, YYYY-MM-DD (UTC)")
    elist = exc.add_parser("list", help="list a tenant's exceptions")
    elist.add_argument("--tenant", type=_tenant_arg, required=True)
    eremove = exc.add_parser("remove", help="remove a mailbox's exception")
    eremove.add_argument("--tenant", type=_tenant_arg, required=True)
    eremove.add_argument("--mailbox", required=True, help="address or GUID")

    plan = commands.add_parser("plan", help="show what remediation would do now, and why; changes nothing")
    plan.add_argument("--tenant", type=_tenant_arg, required=True)
    plan.add_argument("--json", action="store_true", help="print a JSON document instead of a table")

    audit = commands.add_parser("audit", help="the remediation audit trail of a tenant")
    audit.add_argument("--tenant", type=_tenant_arg, required=True)
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")

    hist = commands.add_parser("history", help="recent runs and finding changes of a tenant")
    hist.add_argument("--tenant", type=_tenant_arg, required=True)
    hist.add_argument("--limit", type=int, default=10)
    return parser


class _Progress:
    """Mailboxes read so far, on one terminal line (only on a terminal)."""

    def __init__(self) -> None:
        self.active = sys.stderr.isatty()
        self.shown = False

    def __call__(self, tenant: str, count: int) -> None:
        if self.active:
            sys.stderr.write(f"\r  {tenant}: {count:,} mailboxes read")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The timer's runtime, with the admin's workstation credential."""
    credential = workstation_credential(settings.client_id)
    async with credential, open_runtime(settings, credential=credential) as runtime:
        yield runtime


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    """A check from here records its changes in the history like a scheduled one, so
    it queues what they tell (or the next scheduled run would see nothing new and
    nobody would hear). Sending is left to the timer and its managed identity."""
    progress = _Progress()
    async with _runtime(settings) as runtime:
        cycle = await run_cycle(runtime, args.tenant, deliver=False, progress=progress)
    progress.done()
    results = cycle.results
    if args.tenant and not results:
        raise UsageError(f"tenant {args.tenant} is not monitored (add it: {tenant_add(args.tenant)})")
    if cycle.queued:
        print(f"{cycle.queued} notification(s) queued; the next scheduled run sends them", file=sys.stderr)
    if args.json:
        print(json.dumps(report.document(results), indent=2))
    else:
        print(report.text(results), end="")
    return report.exit_code(results)


async def _tenant(settings: Settings, args: argparse.Namespace) -> int:
    async with _runtime(settings) as services:
        if args.action == "add":
            await services.desired.put_tenant(
                TenantPolicy(
                    tenant_id=args.tenant,
                    initial_domain=args.domain,
                    desired_org_disabled=not args.allow_org_smtp_auth,
                    mode=Mode(args.mode),
                    enabled=not args.disabled,
                    notify_email=tuple(args.notify_email),
                    notify_teams_setting=args.teams_webhook_setting,
                    mailbox_fix_value=MAILBOX_FIX[args.mailbox_fix],
                    evidence_days=args.evidence_days,
                    when_evidence_unavailable=EvidencePolicy(args.when_evidence_unavailable),
                    max_changes_per_run=args.max_changes,
                )
            )
            print(f"tenant {args.tenant} ({args.domain}) monitored in {args.mode} mode")
        elif args.action == "list":
            rows = [("TENANT", "DOMAIN", "MODE", "ENABLED", "EXCEPTIONS", "PROBLEMS")]
            for load in await services.desired.load():
                p = load.policy
                rows.append(
                    (
                        load.tenant_id,
                        p.initial_domain if p else "?",
                        str(p.mode) if p else "?",
                        ("yes" if p.enabled else "no") if p else "?",
                        str(len(p.exceptions)) if p else "?",
                        "; ".join(load.errors) or "-",
                    )
                )
            print("\n".join(report.table(rows)) if len(rows) > 1 else "no tenants monitored")
        else:
            removed = await services.desired.remove_tenant(args.tenant)
            if not removed:
                raise UsageError(f"tenant {args.tenant} has no rows")
            print(f"tenant {args.tenant} removed ({removed} row(s))")
    return EXIT_OK


async def _exception(settings: Settings, args: argparse.Namespace) -> int:
    async with _runtime(settings) as services:
        loads = await services.desired.load(args.tenant)
        if not loads or loads[0].policy is None:
            raise UsageError(
                f"tenant {args.tenant} has no tenant row: add it first with {tenant_add(args.tenant)}"
            )
        load, policy = loads[0], loads[0].policy
        if args.action == "add":
            today = services.clock().date()
            if args.expires < today:
                raise UsageError(f"--expires {args.expires} is in the past (today is {today} UTC)")
            async with services.clients.use(args.tenant) as client:
                mailbox = await client.exchange.find_mailbox(args.mailbox)
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
            print(f"exception recorded for {exc.mailbox} (GUID {exc.mailbox_guid}) until {exc.expires}")
        elif args.action == "list":
            for error in load.errors:
                print(f"PROBLEM: {error}", file=sys.stderr)
            rows = [("MAILBOX", "GUID", "EXPIRES", "APPROVER", "TICKET", "REASON")]
            rows += [
                (
                    e.mailbox,
                    e.mailbox_guid or "-",
                    e.expires.isoformat(),
                    e.approver,
                    e.ticket or "-",
                    e.reason,
                )
                for e in policy.exceptions
            ]
            print("\n".join(report.table(rows)) if len(rows) > 1 else "no exceptions")
        else:
            removed = await services.desired.remove_exception(args.tenant, args.mailbox)
            if not removed:
                raise UsageError(f"no exception for {args.mailbox!r} in tenant {args.tenant}")
            print(f"removed {removed} exception(s) for {args.mailbox}")
    return EXIT_OK


async def _history(settings: Settings, args: argparse.Namespace) -> int:
    async with _runtime(settings) as services:
        runs = await services.history.runs(args.tenant, args.limit)
        events = await services.history.events(args.tenant, args.limit)
    print(report.history_text(runs, events), end="")
    return EXIT_OK


async def _plan(settings: Settings, args: argparse.Namespace) -> int:
    async with _runtime(settings) as services:
        loads = await services.desired.load(args.tenant)
        if not loads:
            raise UsageError(f"tenant {args.tenant} is not monitored (add it: {tenant_add(args.tenant)})")
        result = await plan_tenant(loads[0], services)
    if args.json:
        print(json.dumps(report.plan_json(result), indent=2))
    else:
        print(report.plan_text(result), end="")
    return EXIT_ERROR if result.status is Status.ERROR else EXIT_OK


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    async with _runtime(settings) as services:
        records = await services.remediator.audit.list(args.tenant, args.limit)
    if args.json:
        print(json.dumps(report.audit_json(records), indent=2))
    else:
        print(report.audit_text(records), end="")
    return EXIT_OK


_HANDLERS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "check": _check,
    "tenant": _tenant,
    "exception": _exception,
    "history": _history,
    "plan": _plan,
    "audit": _audit,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return asyncio.run(_HANDLERS[args.command](settings, args))
    except (UsageError, SettingsError, RecordError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except AzureError as exc:
        print(f"error: {exc.message if getattr(exc, 'message', None) else exc}", file=sys.stderr)
        return EXIT_ERROR
