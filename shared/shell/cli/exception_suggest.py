"""What ``exception suggest`` prints: comment lines that say why, and the commands
to run once a person has filled in the reason and approver. Approves nothing."""

from __future__ import annotations

from datetime import date

from shared.core.smtp_usage import TenantUsage, UsageRow
from shared.core.suggest import suggest
from shared.shell.cli.args import EXIT_ERROR, EXIT_OK
from shared.shell.cli.terminal import say
from shared.shell.usage_report import unavailable_text


def _used(row: UsageRow) -> str:
    u = row.user
    where = f" from {', '.join(u.ip_addresses[:3])}" if u.ip_addresses else ""
    auth = ", Basic auth" if u.basic else ""
    return say(
        f"{row.address}: {u.sign_ins:,} SMTP AUTH sign-in(s), last {u.last_seen:%Y-%m-%d %H:%M} UTC{where}{auth}"
    )


def print_suggestions(usage: TenantUsage, today: date) -> int:
    """Exit 0, or 2 when the evidence or Exchange could not be read (then nothing can
    be suggested from it, and that is said)."""
    missing = unavailable_text(usage)
    if usage.error or missing:
        print(f"# nothing to suggest for tenant {usage.tenant_id}: {say(usage.error or missing)}")
        return EXIT_ERROR
    found = suggest(usage, today)
    days = usage.days
    if found.exceptions:
        print(
            f"# Mailboxes with SMTP AUTH on, used in the last {days} days, with no live exception "
            f"({len(found.exceptions):,}). Nothing is approved until you run a command: replace "
            "REASON (what sends as the mailbox), APPROVER and TICKET, check the expiry, then run it."
        )
        for item in found.exceptions:
            print(f"# {_used(item.row)}")
            print(item.command)
    else:
        print(f"# No mailbox with SMTP AUTH on was used in the last {days} days without a live exception.")
    if usage.org_disabled is not False:
        print("# The organization switch keeps SMTP AUTH off: no account relies on it.")
    elif found.org_users:
        print(
            f"# The organization switch has SMTP AUTH ON; {len(found.org_users):,} account(s) used it "
            f"through the switch in the last {days} days. Turning it off stops them, unless each "
            "that must keep it gets an override and an exception first:"
        )
        for row in found.org_users:
            print(f"#   {_used(row)}")
    else:
        print(
            f"# The organization switch has SMTP AUTH ON; no account used it through the switch in {days} days."
        )
    print("# OAuth SMTP senders do not show in the sign-in logs: this list cannot prove a mailbox unused.")
    return EXIT_OK
