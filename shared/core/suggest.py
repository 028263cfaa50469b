"""``exception suggest``: from a tenant's usage report, the mailboxes that have SMTP
AUTH on, were used recently and have no live exception (each with a ready-to-run
``exception add``, its reason, approver and expiry left for a person), and the
accounts that use SMTP AUTH only through the organization switch. Pure; approves
nothing.

The suggested expiry is SUGGESTED_DAYS away: an approval looked at again within a
quarter (well inside SMTPAUTH_MAX_EXCEPTION_DAYS); the admin may change it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.core import commands
from shared.core.smtp_usage import TenantUsage, UsageRow

SUGGESTED_DAYS = 90


@dataclass(frozen=True)
class Suggestion:
    row: UsageRow
    command: str  # exception add, with REASON, APPROVER and YYYY-MM-DD to fill in


@dataclass(frozen=True)
class Suggestions:
    exceptions: tuple[Suggestion, ...]
    org_users: tuple[UsageRow, ...]  # mailboxes that follow an org switch that is on


def suggest(usage: TenantUsage, today: date) -> Suggestions:
    tenant = usage.tenant_id
    until = today + timedelta(days=SUGGESTED_DAYS)
    found = [row for row in usage.rows if row.mailbox is not None]
    return Suggestions(
        exceptions=tuple(
            Suggestion(row, commands.exception_add(tenant, row.address, until))
            for row in found
            if row.override is False and not row.exception_live
        ),
        org_users=tuple(row for row in found if row.override is None and usage.org_disabled is False),
    )
