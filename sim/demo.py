"""``make demo``: one full drift check of a simulated tenant, no Azure account.

Starts Azurite and the simulator on free loopback ports, seeds a tenant, records
the desired state with the product's own CLI, runs the scheduled job (the code the
timer function runs) twice, prints the report, and stops what it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
from datetime import UTC, datetime, timedelta

from shared import report
from shared.cli import main as cli
from shared.identity import managed_identity
from shared.jobs import scheduled_check
from shared.model import MailboxException
from shared.services import open_services
from shared.settings import Settings
from shared.store.rows import exception_row_key

from .azurite import Azurite
from .server import SimServer

TENANT = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
DOMAIN = "contoso.onmicrosoft.com"
MAILBOXES = 3000
UNAPPROVED = (17, 512, 1999, 2750)  # mailboxes someone switched on without approval


def say(text: str = "") -> None:
    print(text, flush=True)


def run_cli(*args: str) -> int:
    say(f"$ python -m shared {shlex.join(args)}")
    code = cli(list(args))
    say()
    return code


def seed(server: SimServer) -> None:
    tenant = server.add_tenant(TENANT, DOMAIN, org_smtp_auth_disabled=False)
    tenant.seed(MAILBOXES, overrides={i: False for i in UNAPPROVED})
    tenant.add_mailbox(f"scanner-floor3@{DOMAIN}", display_name="Scanner, floor 3", smtp_auth_disabled=False)
    tenant.add_mailbox(f"legacy-erp@{DOMAIN}", display_name="Legacy ERP", smtp_auth_disabled=False)


async def add_expired_exception() -> None:
    """An approval recorded 90 days ago that ran out yesterday (the CLI refuses past dates)."""
    settings = Settings.from_env()
    async with managed_identity(None) as credential, open_services(settings, credential) as services:
        mailbox = await services.exchange.find_mailbox(TENANT, f"legacy-erp@{DOMAIN}")
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
            }
        )
        seed(server)
        say(
            f"Simulated tenant {DOMAIN}: {MAILBOXES + 2:,} mailboxes, org SMTP AUTH switched ON, "
            f"{len(UNAPPROVED) + 2} mailboxes with SMTP AUTH ON.\n"
        )
        say("Desired state, recorded with the admin CLI (rows in Table Storage):\n")
        run_cli(
            "tenant", "add", "--tenant", TENANT, "--domain", DOMAIN, "--notify-email", "secops@contoso.com"
        )
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

        say("Running it again: the findings are the same, so nothing is new.\n")
        again = asyncio.run(scheduled_check(Settings.from_env()))
        say("  " + report.text(again).splitlines()[-1].strip())
        say()
        fixed = server.tenant(TENANT).mailbox_at(UNAPPROVED[0])
        say(f"An admin turns SMTP AUTH off for {fixed.address} and for the organization; next run:\n")
        server.tenant(TENANT).set_override(fixed.guid, True)
        server.tenant(TENANT).set_org_setting(True)
        third = asyncio.run(scheduled_check(Settings.from_env()))
        say("  " + report.text(third).splitlines()[-1].strip())
        say()
        run_cli("history", "--tenant", TENANT, "--limit", "12")
        code = report.exit_code(results)
    say(f"Stopped Azurite and the simulator. Exit code of the check: {code} (0 compliant, 1 drift, 2 error).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
