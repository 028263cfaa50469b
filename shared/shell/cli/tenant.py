"""``tenant add|list|remove``: the monitored tenants."""

from __future__ import annotations

import argparse

from shared.core.limits import DEFAULT_MAILBOX_FIX, EVIDENCE_DAYS, MAILBOX_FIX, MAX_CHANGES_PER_RUN
from shared.core.model import EvidencePolicy, Mode, TenantPolicy
from shared.shell import report
from shared.shell.cli.args import (
    EXIT_OK,
    UsageError,
    address_arg,
    domain_arg,
    needs_rows,
    tenant_arg,
    webhook_setting_arg,
    whole_number,
)
from shared.shell.cli.session import cli_runtime
from shared.shell.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("tenant", help="monitored tenants")
    tenant.set_defaults(run=run)
    actions = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="monitor a tenant (or update its row)")
    add.set_defaults(needs=needs_rows)
    add.add_argument("--tenant", type=tenant_arg, required=True, help="tenant GUID")
    add.add_argument(
        "--domain",
        type=domain_arg,
        required=True,
        help="initial domain, e.g. contoso.onmicrosoft.com",
    )
    add.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.REPORT.value)
    add.add_argument(
        "--allow-org-smtp-auth",
        action="store_true",
        help="desired org value: SMTP AUTH ON for the organization (against policy; default off)",
    )
    add.add_argument("--notify-email", action="append", default=[], type=address_arg, metavar="ADDRESS")
    add.add_argument(
        "--teams-webhook-setting",
        type=webhook_setting_arg,
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
        type=whole_number(EVIDENCE_DAYS),
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
        type=whole_number(MAX_CHANGES_PER_RUN),
        default=MAX_CHANGES_PER_RUN.default,
        metavar="N",
        help=f"most mailbox changes per run, {MAX_CHANGES_PER_RUN.low}-{MAX_CHANGES_PER_RUN.high} "
        f"(default {MAX_CHANGES_PER_RUN.default})",
    )
    actions.add_parser("list", help="list monitored tenants").set_defaults(needs=needs_rows)
    remove = actions.add_parser("remove", help="stop monitoring a tenant (deletes its exceptions too)")
    remove.add_argument("--tenant", type=tenant_arg, required=True)
    remove.set_defaults(needs=needs_rows)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
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
                        f"{len(p.exceptions):,}" if p else "?",
                        "; ".join(load.errors) or "-",
                    )
                )
            print("\n".join(report.table(rows)) if len(rows) > 1 else "no tenants monitored")
        else:
            removed = await services.desired.remove_tenant(args.tenant)
            if not removed:
                raise UsageError(f"tenant {args.tenant} has no rows")
            print(f"tenant {args.tenant} removed ({removed:,} row(s))")
    return EXIT_OK
