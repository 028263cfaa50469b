"""What a remediating check reports, end to end (Azurite, the simulator, the CLI as a
separate process): what it fixed and read back is fixed, not open, in the JSON, the
table, the card, the mail, the history and the digest; the exit code follows what is
still open; the next run does not announce the fix again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.model import Mode, Status
from shared.shell.jobs import scheduled_check, weekly_digest
from shared.shell.settings import Settings
from sim.graph_signins import sign_in

from .helpers import services
from .notify_helpers import TEAMS_SETTING, card_text, notified_policy
from .test_cli import cli

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
def webhook(sim, monkeypatch) -> str:
    url = sim.add_teams_webhook()
    monkeypatch.setenv(TEAMS_SETTING, url)
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", "smtp-guard@contoso.com")
    return url


def drifted(sim, tenant_id, domain, overrides):
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False)
    tenant.seed(40, overrides=overrides)
    return tenant


async def remediating(tenant_id, domain):
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0))


async def test_a_check_that_fixes_everything_exits_0_and_lists_it_as_fixed(sim, tenant_id):
    domain = "fixall.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain, {5: False})
    rogue = tenant.mailbox_at(5)
    await remediating(tenant_id, domain)

    done = await asyncio.to_thread(cli, "check", "--tenant", tenant_id, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (result,) = doc["results"]
    assert doc["version"] == 1 and doc["exit_code"] == 0
    assert (result["status"], result["compliant"], result["findings"]) == ("compliant", True, [])
    assert result["org"] == {"actual": True, "desired": True}  # as it is now, after the fix
    assert sorted((f["kind"], f["mailbox"], f["actual"]) for f in result["fixed"]) == [
        ("mailbox-enabled-without-exception", rogue.address, False),
        ("org-setting-drift", "organization", False),
    ]
    assert result["changes"] == {"opened": 0, "changed": 0, "resolved": 0, "unchanged": 0, "fixed": 2}
    assert tenant.org_smtp_auth_disabled is True and tenant.mailbox_at(5).smtp_auth_disabled is True

    table = await asyncio.to_thread(cli, "check", "--tenant", tenant_id)
    assert table.returncode == 0 and "COMPLIANT" in table.stdout
    assert "0 resolved" in table.stdout  # the fix is not announced a second time
    history = await asyncio.to_thread(cli, "history", "--tenant", tenant_id)
    events = [line.split()[2:] for line in history.stdout.splitlines() if " fixed " in line]
    assert "FIXED" in history.stdout
    assert sorted(events) == sorted(
        [
            ["fixed", "mailbox-enabled-without-exception", rogue.address],
            ["fixed", "org-setting-drift", "organization"],
        ]
    )
    async with services() as svc:
        assert await svc.history.open_findings(tenant_id) == {}
        (newest, first) = await svc.history.runs(tenant_id, 2)
    assert (first.status, first.finding_count, first.fixed) == (Status.COMPLIANT, 0, 2)
    assert (newest.resolved, newest.fixed) == (0, 0)


async def test_what_is_held_stays_open_and_the_exit_code_says_so(sim, tenant_id):
    domain = "fixsome.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain, {5: False, 6: False})
    rogue, printer = tenant.mailbox_at(5), tenant.mailbox_at(6)
    sim.add_sign_in(sign_in(printer.address, datetime.now(UTC) - timedelta(days=1), ip_address="192.0.2.44"))
    await remediating(tenant_id, domain)

    done = await asyncio.to_thread(cli, "check", "--tenant", tenant_id, "--json")
    assert done.returncode == 1, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert [f["mailbox"] for f in result["findings"]] == [printer.address]
    assert sorted(f["mailbox"] for f in result["fixed"]) == sorted(["organization", rogue.address])

    table = await asyncio.to_thread(cli, "check", "--tenant", tenant_id)
    assert (
        table.returncode == 1
        and "Since the last run: 0 new, 0 changed, 0 resolved, 1 unchanged" in table.stdout
    )


@pytest.mark.usefixtures("webhook")
async def test_the_card_mail_and_digest_tell_a_fix_as_fixed_once(sim, tenant_id):
    domain = "fixcard.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain, {5: False, 6: False})
    rogue, printer = tenant.mailbox_at(5), tenant.mailbox_at(6)
    sim.add_sign_in(sign_in(printer.address, datetime.now(UTC) - timedelta(days=1), ip_address="192.0.2.44"))
    await remediating(tenant_id, domain)

    await scheduled_check(Settings.from_env())
    (post,) = sim.teams_posts
    (mail,) = sim.sent_mails
    text = card_text(post.card)
    new_drift = text.split("New drift (1)")[1].split("Fixed by remediation")[0]
    assert printer.address in new_drift and rogue.address not in new_drift
    fixed = text.split("Fixed by remediation (2)")[1].split("Remediation held")[0]
    assert rogue.address in fixed and "Organization (Set-TransportConfig)" in fixed
    assert "Open findings: 1" in text and "Organization SMTP AUTH: off (policy: off)" in text
    assert mail.subject == (
        f"[SMTP AUTH Guard] SMTP AUTH drift found in {domain}: 1 new, remediation applied: 2, "
        "remediation held: 1"
    )

    await scheduled_check(Settings.from_env())  # nothing changed: the fix is not "resolved" now
    assert (len(sim.teams_posts), len(sim.sent_mails)) == (1, 1)

    await weekly_digest(Settings.from_env())
    digest = card_text(sim.teams_posts[-1].card)
    assert "Weekly SMTP AUTH summary" in digest and "Open drift (1)" in digest
    assert printer.address in digest and rogue.address not in digest
    assert "Set-TransportConfig" not in digest
