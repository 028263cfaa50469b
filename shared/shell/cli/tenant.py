"""``tenant add|set|show|list|remove``: the monitored tenants.

``add`` creates a row and refuses an existing one; ``set`` changes only the options
given, so re-running a command to change one thing never resets the others."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from shared.core.commands import exception_list, tenant_set, tenant_show
from shared.core.limits import (
    DEFAULT_MAILBOX_FIX,
    EVIDENCE_DAYS,
    GRACE_HOURS,
    INTERVAL_MINUTES,
    MAILBOX_FIX,
    MAX_CHANGES_PER_RUN,
)
from shared.core.model import EvidencePolicy, Mode, TenantPolicy
from shared.shell import report
from shared.shell.cli import onboard
from shared.shell.cli.args import (
    EXIT_OK,
    UsageError,
    addresses_arg,
    domain_arg,
    needs_rows,
    refused,
    tenant_guid_arg,
    tenant_option,
    webhook_setting_arg,
    whole_number,
)
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.cli.terminal import say
from shared.shell.settings import Settings
from shared.store import DesiredStateStore
from shared.store.desired import TenantRowChanged
from shared.store.rows import EXCEPTION_PREFIX, TENANT_COLUMNS, RowError, parse_tenant_row, tenant_entity

# The row's columns as the options that set them: a refused value names the option.
OPTIONS = {
    "PartitionKey": "--tenant",
    "InitialDomain": "--domain",
    "SmtpClientAuthenticationDisabled": "--allow-org-smtp-auth",
    "Mode": "--mode",
    "Enabled": "--disabled",
    "NotifyEmail": "--notify-email",
    "NotifyTeamsWebhookSetting": "--teams-webhook-setting",
    "MailboxFix": "--mailbox-fix",
    "EvidenceDays": "--evidence-days",
    "WhenEvidenceUnavailable": "--when-evidence-unavailable",
    "MaxChangesPerRun": "--max-changes",
    "IntervalMinutes": "--interval-minutes",
    "AppId": "--app-id",
    "GraceHours": "--grace-hours",
}
_KEYS = ("PartitionKey", "RowKey")


def _policy_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    """The options a tenant row is made of. For ``add`` each has its default; for
    ``set`` none has one (None: not given, left as it is)."""

    def default(value: Any) -> Any:
        return value if creating else None

    parser.add_argument(
        "--domain",
        type=domain_arg,
        required=creating,
        help="initial domain, e.g. contoso.onmicrosoft.com",
    )
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=default(Mode.REPORT.value))
    org = parser.add_mutually_exclusive_group()
    org.add_argument(
        "--allow-org-smtp-auth",
        dest="org_smtp_auth",
        action="store_const",
        const=True,
        default=default(False),
        help="accept SMTP AUTH ON for the organization as a deviation (against policy; default off); "
        "remediation never turns it on",
    )
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument(
        "--disabled",
        dest="enabled",
        action="store_const",
        const=False,
        default=default(True),
        help="keep the row but do not check the tenant",
    )
    notify = parser.add_mutually_exclusive_group()
    notify.add_argument(
        "--notify-email",
        action="extend",
        type=addresses_arg,
        metavar="ADDRESS",
        help="who is told (repeat it, or separate addresses with ;)"
        + ("" if creating else "; replaces the list"),
    )
    teams = parser.add_mutually_exclusive_group()
    teams.add_argument(
        "--teams-webhook-setting",
        type=webhook_setting_arg,
        metavar="NAME",
        help="name of the app setting that holds the webhook URL (never the URL: it is a secret)",
    )
    if not creating:
        org.add_argument(
            "--disallow-org-smtp-auth",
            dest="org_smtp_auth",
            action="store_const",
            const=False,
            help="desired org value: SMTP AUTH off for the organization (policy)",
        )
        enabled.add_argument(
            "--enabled", dest="enabled", action="store_const", const=True, help="check the tenant again"
        )
        notify.add_argument("--no-notify-email", action="store_true", help="nobody is told by email")
        teams.add_argument("--no-teams-webhook-setting", action="store_true", help="no Teams messages")
    parser.add_argument(
        "--mailbox-fix",
        choices=list(MAILBOX_FIX),
        default=default(DEFAULT_MAILBOX_FIX),
        help="how remediation sets an unapproved mailbox: disable (explicitly off, default) or "
        "org-default ($null, follow the org)",
    )
    parser.add_argument(
        "--evidence-days",
        type=whole_number(EVIDENCE_DAYS),
        default=default(EVIDENCE_DAYS.default),
        metavar="N",
        help=f"sign-in evidence window, {EVIDENCE_DAYS.low}-{EVIDENCE_DAYS.high} days "
        f"(default {EVIDENCE_DAYS.default})",
    )
    parser.add_argument(
        "--when-evidence-unavailable",
        choices=[p.value for p in EvidencePolicy],
        default=default(EvidencePolicy.HOLD.value),
        help="when sign-in logs cannot be read (no Entra ID P1): hold (default) or proceed",
    )
    parser.add_argument(
        "--max-changes",
        type=whole_number(MAX_CHANGES_PER_RUN),
        default=default(MAX_CHANGES_PER_RUN.default),
        metavar="N",
        help=f"most mailbox changes per run, {MAX_CHANGES_PER_RUN.low}-{MAX_CHANGES_PER_RUN.high} "
        f"(default {MAX_CHANGES_PER_RUN.default})",
    )
    parser.add_argument(
        "--interval-minutes",
        type=whole_number(INTERVAL_MINUTES),
        default=default(INTERVAL_MINUTES.default),
        metavar="N",
        help=f"check the tenant at most every N minutes, {INTERVAL_MINUTES.low}-{INTERVAL_MINUTES.high} "
        "(default 0: every timer tick)",
    )
    parser.add_argument(
        "--grace-hours",
        type=whole_number(GRACE_HOURS),
        default=default(GRACE_HOURS.default),
        metavar="N",
        help=f"hours remediation waits after drift is first seen before it turns SMTP AUTH off, "
        f"{GRACE_HOURS.low}-{GRACE_HOURS.high} (default {GRACE_HOURS.default}; 0: at once)",
    )


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("tenant", help="monitored tenants")
    tenant.set_defaults(run=run)
    actions = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="monitor a new tenant (an existing one: tenant set)")
    add.add_argument("--tenant", type=tenant_guid_arg, required=True, help="tenant GUID (directory id)")
    add.set_defaults(needs=needs_rows)
    _policy_options(add, creating=True)
    change = actions.add_parser("set", help="change the options given, and nothing else")
    tenant_option(change)
    change.set_defaults(needs=needs_rows)
    _policy_options(change, creating=False)
    show = actions.add_parser("show", help="every setting of a tenant")
    tenant_option(show)
    show.set_defaults(needs=needs_rows)
    actions.add_parser("list", help="list monitored tenants").set_defaults(needs=needs_rows)
    remove = actions.add_parser("remove", help="stop monitoring a tenant (deletes its exceptions too)")
    tenant_option(remove)
    remove.set_defaults(needs=needs_rows)
    remove.add_argument("--yes", action="store_true", help="also when it has exceptions (they are deleted)")
    onboard.register(actions, _policy_options, _add)


# Option (its argparse dest) -> the TenantPolicy field it sets, and how.
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "domain": ("initial_domain", str),
    "mode": ("mode", Mode),
    "org_smtp_auth": ("desired_org_disabled", lambda allow: not allow),
    "enabled": ("enabled", bool),
    "notify_email": ("notify_email", tuple),
    "teams_webhook_setting": ("notify_teams_setting", str),
    "mailbox_fix": ("mailbox_fix_value", MAILBOX_FIX.__getitem__),
    "evidence_days": ("evidence_days", int),
    "when_evidence_unavailable": ("when_evidence_unavailable", EvidencePolicy),
    "max_changes": ("max_changes_per_run", int),
    "interval_minutes": ("interval_minutes", int),
    "grace_hours": ("grace_hours", int),
}


def changes_from(args: argparse.Namespace) -> dict[str, Any]:
    """The TenantPolicy fields the options given set. An option not given is None in
    ``args``; a field's value may itself be None (org-default, no Teams setting)."""
    changes = {
        field: convert(getattr(args, dest))
        for dest, (field, convert) in _FIELDS.items()
        if getattr(args, dest) is not None
    }
    if getattr(args, "no_notify_email", False):
        changes["notify_email"] = ()
    if getattr(args, "no_teams_webhook_setting", False):
        changes["notify_teams_setting"] = None
    return changes


def policy_from(args: argparse.Namespace) -> TenantPolicy:
    """The tenant row ``tenant add`` writes (every option has its default there)."""
    fields = changes_from(args)
    fields.setdefault("notify_email", ())
    return TenantPolicy(tenant_id=args.tenant, app_id=getattr(args, "app_id", None), **fields)


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if str(value) != "" else "(none)"


def _no_target(policy: TenantPolicy) -> bool:
    return not policy.notify_email and not policy.notify_teams_setting


def _no_target_warning(policy: TenantPolicy) -> str:
    return (
        f"warning: tenant {policy.tenant_id} has no notification target: nobody is told about drift "
        f"(add one: {tenant_set(policy.tenant_id, '--notify-email ADDRESS')})"
    )


async def _domain_taken(desired: DesiredStateStore, tenant: str, domain: str) -> str | None:
    """Another tenant whose row already has this domain (as its id or initial domain)."""
    for other in await desired.tenants_named(domain):
        if other != tenant:
            return other
    return None


async def _add(desired: DesiredStateStore, args: argparse.Namespace) -> None:
    policy = policy_from(args)
    if await desired.tenant_row(policy.tenant_id) is not None:
        raise UsageError(_exists(policy.tenant_id))
    other = await _domain_taken(desired, policy.tenant_id, policy.initial_domain)
    if other:
        raise UsageError(f"--domain: tenant {other} already has the domain {policy.initial_domain}")
    try:
        created = await desired.create_tenant(policy)
    except RowError as exc:
        raise refused(exc, OPTIONS) from None
    if not created:  # added by someone else since the look above
        raise UsageError(_exists(policy.tenant_id))
    print(say(f"tenant {policy.tenant_id} ({policy.initial_domain}) monitored in {policy.mode} mode"))
    if _no_target(policy):
        print(_no_target_warning(policy), file=sys.stderr)


def _exists(tenant: str) -> str:
    return (
        f"tenant {tenant} is already monitored: change it with {tenant_set(tenant)} "
        f"(only the options given change; {tenant_show(tenant)} shows it)"
    )


async def _set(desired: DesiredStateStore, args: argparse.Namespace) -> None:
    tenant = await resolve_tenant(desired, args.tenant)
    changes = changes_from(args)
    if not changes:
        raise UsageError("tenant set: give at least one option to change (see tenant set --help)")
    if "initial_domain" in changes:
        other = await _domain_taken(desired, tenant, changes["initial_domain"])
        if other:
            raise UsageError(f"--domain: tenant {other} already has the domain {changes['initial_domain']}")
    try:
        changed = await desired.change_tenant(tenant, changes)
    except KeyError:
        raise UsageError(f"tenant {tenant} has no tenant row (add it with tenant add)") from None
    except RowError as exc:
        raise refused(exc, OPTIONS) from None
    except TenantRowChanged:
        raise UsageError(
            f"tenant {tenant}: the row changed while this ran; nothing was written, run again"
        ) from None
    if not changed:
        print(f"tenant {tenant}: no change (it already had those values)")
        return
    print(f"tenant {tenant}: {len(changed)} change(s)")
    for change in changed:
        print(f"  {change.column}: {say(_shown(change.old))} -> {say(_shown(change.new))}")


async def _show(desired: DesiredStateStore, args: argparse.Namespace) -> None:
    tenant = await resolve_tenant(desired, args.tenant)
    entity = await desired.tenant_row(tenant)
    if entity is None:
        raise UsageError(f"tenant {tenant} has no tenant row (`tenant list` shows the monitored tenants)")
    try:
        policy: TenantPolicy | None = parse_tenant_row(entity)
    except RowError:
        policy = None
    # Effective values (defaults filled in) when the row reads; as stored otherwise.
    values = tenant_entity(policy) if policy else entity
    rows = [("SETTING", "VALUE")]
    for column in TENANT_COLUMNS.values():
        stored = entity.get(column)
        note = " (default)" if policy and (stored is None or stored == "") and values[column] != "" else ""
        rows.append((column, _shown(values.get(column)) + note))
    # Columns the product does not know of yet and columns added by hand (notes, owner).
    known = set(TENANT_COLUMNS.values()) | set(_KEYS)
    rows += [(column, _shown(value)) for column, value in sorted(values.items()) if column not in known]
    rows += [(column, _shown(value)) for column, value in sorted(entity.items()) if column not in values]
    loads = await desired.load(tenant)
    exceptions = sum(len(load.policy.exceptions) for load in loads if load.policy)
    print(f"tenant {tenant}")
    print("\n".join(report.table(rows)))
    print(f"  exceptions: {exceptions} ({exception_list(tenant)})")
    for problem in (error for load in loads for error in load.errors):
        print(f"PROBLEM: {say(problem)}", file=sys.stderr)
    if policy and _no_target(policy):
        print(_no_target_warning(policy), file=sys.stderr)


async def _list(desired: DesiredStateStore) -> None:
    rows = [("TENANT", "DOMAIN", "MODE", "ENABLED", "NOTIFY", "EXCEPTIONS", "PROBLEMS")]
    warnings = []
    for load in await desired.load():
        p = load.policy
        targets = (len(p.notify_email) + (1 if p.notify_teams_setting else 0)) if p else None
        rows.append(
            (
                load.tenant_id,
                p.initial_domain if p else "?",
                str(p.mode) if p else "?",
                ("yes" if p.enabled else "no") if p else "?",
                "?" if targets is None else (str(targets) if targets else "NONE"),
                str(len(p.exceptions)) if p else "?",
                "; ".join(load.errors) or "-",
            )
        )
        if p and _no_target(p):
            warnings.append(_no_target_warning(p))
    print("\n".join(report.table(rows)) if len(rows) > 1 else "no tenants monitored")
    for warning in warnings:
        print(warning, file=sys.stderr)


async def _remove(desired: DesiredStateStore, args: argparse.Namespace) -> None:
    tenant = await resolve_tenant(desired, args.tenant)
    if not args.yes:
        exceptions = [
            e for e in await desired.rows_of(tenant) if str(e.get("RowKey", "")).startswith(EXCEPTION_PREFIX)
        ]
        if exceptions:
            raise UsageError(
                f"tenant {tenant} has {len(exceptions)} exception(s), which removing it deletes too: "
                "run again with --yes to remove them all (nothing was removed)"
            )
    removed = await desired.remove_tenant(tenant)
    if not removed:
        raise UsageError(f"tenant {tenant} has no rows")
    print(f"tenant {tenant} removed ({removed:,} row(s))")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        desired = services.desired
        if args.action == "add":
            await _add(desired, args)
        elif args.action == "set":
            await _set(desired, args)
        elif args.action == "show":
            await _show(desired, args)
        elif args.action == "list":
            await _list(desired)
        else:
            await _remove(desired, args)
    return EXIT_OK
