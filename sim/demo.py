"""``make demo``: one full drift check of a simulated tenant, no Azure account.

Starts Azurite and the simulator on free loopback ports, seeds a tenant, records
the desired state with the product's own CLI, runs the scheduled job (the code the
timer function runs) three times (drift, unchanged, fixed by hand), prints the report
and what each run sent to Teams and by email (the cards and mails as the simulator
received them are written to out/demo/); then switches the tenant to remediate mode
for one remediation cycle (plan, the grace period and its due times, fix, one change
held because a printer used SMTP AUTH yesterday, audit; what it fixed is reported as
fixed, not open), the weekly digest, and stops what it started. Along the way: who
still uses SMTP AUTH (the usage report, with the scanner's Basic-auth sign-ins and a
password spray that is not usage), the scanner's exception at risk when Basic auth
goes, and the exception add commands `exception suggest` prints.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.core.commands import CLI
from shared.core.model import MailboxException
from shared.shell import report
from shared.shell.cli import main as cli
from shared.shell.jobs import scheduled_check, weekly_digest
from shared.shell.runtime import open_runtime
from shared.shell.settings import Settings
from shared.store.rows import exception_row_key

from .azurite import Azurite
from .graph_signins import sign_in
from .received import Received
from .server import SimServer
from .signin_mix import usage_mix

TENANT = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
DOMAIN = "contoso.onmicrosoft.com"
MAILBOXES = 3000
UNAPPROVED = (17, 512, 1999, 2750)  # mailboxes someone switched on without approval
TEAMS_SETTING = "SMTPAUTH_TEAMS_WEBHOOK_CONTOSO"  # the app setting that holds the webhook URL
SENDER = "smtp-auth-guard@contoso.com"
OUT = Path("out") / "demo"  # under the folder it runs in: `make demo` runs at the root


def say(text: str = "") -> None:
    print(text, flush=True)


def run_cli(*args: str) -> int:
    say(f"$ {CLI} {shlex.join(args)}")
    code = cli(list(args))
    say()
    if code == 2:  # a usage error or a dead service: what follows would show nothing true
        raise SystemExit(f"demo stopped: `{CLI} {shlex.join(args)}` failed (exit 2)")
    return code


class Sent:
    """What the simulator's Teams webhook and sendMail received since the last look."""

    def __init__(self, server: SimServer) -> None:
        self.received = Received(server, OUT)

    def show(self, step: str) -> None:
        lines = self.received.new(step)
        for line in lines or ["Notifications: nothing sent (nothing changed)."]:
            say(f"  {line}")


def seed(server: SimServer) -> None:
    tenant = server.add_tenant(TENANT, DOMAIN, org_smtp_auth_disabled=False)
    tenant.seed(MAILBOXES, overrides={i: False for i in UNAPPROVED})
    scanner = tenant.add_mailbox(
        f"scanner-floor3@{DOMAIN}", display_name="Scanner, floor 3", smtp_auth_disabled=False
    )
    erp = tenant.add_mailbox(f"legacy-erp@{DOMAIN}", display_name="Legacy ERP", smtp_auth_disabled=False)
    # A month of sign-ins: the scanner sends with Basic auth every day, the ERP as "SMTP",
    # people use browsers and mail apps, and someone sprays passwords at 40 accounts.
    entries = usage_mix(
        datetime.now(UTC) - timedelta(minutes=5),
        basic=[scanner],
        legacy=[erp],
        people=[tenant.mailbox_at(i) for i in range(5)],
        sprayed=[tenant.mailbox_at(i).address for i in range(40, 80)],
    )
    for entry in entries:
        server.add_sign_in(entry)


async def add_expired_exception() -> None:
    """An approval recorded 90 days ago that ran out yesterday (the CLI refuses past dates)."""
    async with open_runtime(Settings.from_env()) as services:
        async with services.clients.use(TENANT) as client:
            mailbox = await client.exchange.find_mailbox(f"legacy-erp@{DOMAIN}")
        assert mailbox is not None  # noqa: S101 (seeded above)
        await services.desired.put_exception(
            TENANT,
            MailboxException(
                row_key=exception_row_key(mailbox.guid, mailbox.address),
                mailbox=mailbox.address,
                mailbox_guid=mailbox.guid,
                reason="ERP invoices by SMTP until the API migration",
                approver="ciso@contoso.com",
                ticket="CHG-1042",
                expires=(datetime.now(UTC) - timedelta(days=1)).date(),
            ),
        )


def remediation_cycle(server: SimServer, sent: Sent) -> None:
    """Drift comes back; the tenant now remediates, with one change held by evidence."""
    tenant = server.tenant(TENANT)
    rogue = [tenant.mailbox_at(i) for i in (100, 200)]
    printer = tenant.add_mailbox(f"mfp-lobby@{DOMAIN}", display_name="MFP, lobby", smtp_auth_disabled=False)
    for mailbox in rogue:
        tenant.set_override(mailbox.guid, False)
    # The lobby printer really sends with SMTP AUTH: the sign-in logs show it yesterday.
    server.add_sign_in(
        sign_in(printer.address, datetime.now(UTC) - timedelta(days=1), ip_address="192.0.2.44")
    )
    say("=" * 78)
    say(f"Remediation. Someone turns SMTP AUTH on for {rogue[0].address}, {rogue[1].address}")
    say(f"and {printer.address} (no exception). The lobby printer really uses it: the sign-in")
    say("logs show it yesterday. The tenant is switched to remediate mode:\n")
    run_cli("tenant", "set", "--tenant", TENANT, "--mode", "remediate")
    run_cli("plan", "--tenant", TENANT)
    say("Nothing is turned off before its grace period ends (GraceHours, 24 hours by default,")
    say("from when the drift was first seen): OAuth SMTP senders leave no SMTP sign-in, so their")
    say("owners get that long to record an exception. The demo cannot wait a day; it acts at once:\n")
    run_cli("tenant", "set", "--tenant", TENANT, "--grace-hours", "0")
    run_cli("plan", "--tenant", TENANT)
    say("Running the scheduled check in remediate mode ...\n")
    fourth = asyncio.run(scheduled_check(Settings.from_env()))
    say(report.text(fourth))
    sent.show("4-remediated")
    say()
    changed = server.set_calls
    say(f"  Exchange received {len([c for c in changed if c.status == 200])} Set-* call(s):")
    for call in changed:
        params = call.parameters or {}
        value = params.get("SmtpClientAuthenticationDisabled")
        shown = "$null" if value is None else f"${str(value).lower()}"
        say(f"    {call.cmdlet} -Identity {params.get('Identity')} -SmtpClientAuthenticationDisabled {shown}")

    say(f"  {printer.address} keeps SMTP AUTH: {tenant.mailbox(printer.guid).smtp_auth_disabled is False}\n")
    run_cli("audit", "--tenant", TENANT, "--limit", "8")
    say("Next run: the fixed mailboxes were told as fixed, once (never open, never 'resolved' later);")
    say("the held printer stays open until someone decides.\n")
    fifth = asyncio.run(scheduled_check(Settings.from_env()))
    say("  " + report.text(fifth).splitlines()[-1].strip())
    sent.show("5-after-remediation")
    say()
    say("The weekly digest (the Monday timer's job): its open drift is the held printer alone.\n")
    asyncio.run(weekly_digest(Settings.from_env()))
    sent.show("6-digest")
    say()


def main() -> int:
    logging.basicConfig(level=logging.ERROR, format="  log %(levelname)s %(name)s: %(message)s")
    say("Starting Azurite and the Exchange Online simulator on free loopback ports ...")
    with Azurite() as azurite, SimServer() as server:
        os.environ.update(
            {
                "AzureWebJobsStorage": azurite.connection_string,
                "SMTPAUTH_EXCHANGE_URL": server.url,
                "SMTPAUTH_GRAPH_URL": server.url,
                "IDENTITY_ENDPOINT": server.identity_endpoint,
                "IDENTITY_HEADER": server.identity_header,
                # Notifications: the webhook URL is a secret, so the tenant row names the
                # setting that holds it; mail is sent as this mailbox through Graph.
                TEAMS_SETTING: server.add_teams_webhook(),
                "SMTPAUTH_MAIL_SENDER": SENDER,
            }
        )
        sent = Sent(server)
        seed(server)
        say(
            f"Simulated tenant {DOMAIN}: {MAILBOXES + 2:,} mailboxes, org SMTP AUTH switched ON, "
            f"{len(UNAPPROVED) + 2} mailboxes with SMTP AUTH ON.\n"
        )
        say("Desired state, recorded with the admin CLI (rows in Table Storage):\n")
        run_cli(
            "tenant", "add", "--tenant", TENANT, "--domain", DOMAIN, "--notify-email", "secops@contoso.com",
            "--teams-webhook-setting", TEAMS_SETTING,
        )  # fmt: skip
        expires = (datetime.now(UTC) + timedelta(days=180)).date().isoformat()
        run_cli(
            "exception", "add", "--tenant", TENANT, "--mailbox", f"scanner-floor3@{DOMAIN}",
            "--reason", "MFP scan-to-mail, no OAuth support", "--approver", "ciso@contoso.com",
            "--ticket", "CHG-2071", "--expires", expires,
        )  # fmt: skip
        asyncio.run(add_expired_exception())
        run_cli("exception", "list", "--tenant", TENANT)

        say("Running the scheduled check (the code the timer function runs) ...\n")
        results = asyncio.run(scheduled_check(Settings.from_env()))
        say(report.text(results))
        sent.show("1-drift")
        say()

        say("Running it again: the findings are the same, so nothing is new.\n")
        again = asyncio.run(scheduled_check(Settings.from_env()))
        say("  " + report.text(again).splitlines()[-1].strip())
        sent.show("2-unchanged")
        say()
        say("Who still uses SMTP AUTH, and with Basic auth (the spray is not usage; --csv gives")
        say("one row per account for the customer's spreadsheet):\n")
        run_cli("usage", "--tenant", TENANT)
        say("The scanner's exception is at risk (exception-uses-basic-auth in the check): it stops sending")
        say(
            "when Basic auth goes. What `exception suggest` offers for the mailbox whose exception expired:\n"
        )
        run_cli("exception", "suggest", "--tenant", TENANT)
        tenant = server.tenant(TENANT)
        say("An admin fixes it all by hand: SMTP AUTH off for the organization, the four mailboxes")
        say(f"and legacy-erp@{DOMAIN} (its exception expired); next run:\n")
        for index in UNAPPROVED:
            tenant.set_override(tenant.mailbox_at(index).guid, True)
        tenant.set_override(f"legacy-erp@{DOMAIN}", True)
        tenant.set_org_setting(True)
        third = asyncio.run(scheduled_check(Settings.from_env()))
        say("  " + report.text(third).splitlines()[-1].strip())
        sent.show("3-fixed")
        say()
        run_cli("history", "--tenant", TENANT, "--limit", "12")
        code = report.exit_code(results)

        remediation_cycle(server, sent)
    say(f"Stopped Azurite and the simulator. Exit code of the check: {code} (0 compliant, 1 drift, 2 error).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
