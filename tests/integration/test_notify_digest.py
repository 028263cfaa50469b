"""The weekly digest: its timer function, and what it sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient
from azure.functions.timer import TimerRequest

from shared.shell.jobs import scheduled_check
from shared.shell.settings import Settings

from .helpers import approved, services
from .notify_helpers import TEAMS_SETTING, card_text, notified_policy
from .test_function_app import load_app

pytestmark = pytest.mark.usefixtures("app_env")


def test_both_timers_are_registered_with_their_schedules(monkeypatch):
    monkeypatch.delenv("SMTPAUTH_DIGEST_SCHEDULE", raising=False)
    functions = load_app(monkeypatch)
    assert {"scheduled_check", "weekly_digest"} <= set(functions)
    (binding,) = json.loads(functions["weekly_digest"].get_function_json())["bindings"]
    assert (binding["type"], binding["schedule"], binding["runOnStartup"]) == (
        "timerTrigger",
        "0 0 7 * * 1",
        False,
    )
    monkeypatch.setenv("SMTPAUTH_DIGEST_SCHEDULE", "0 0 8 * * *")
    digest = load_app(monkeypatch)["weekly_digest"]
    assert json.loads(digest.get_function_json())["bindings"][0]["schedule"] == "0 0 8 * * *"


async def test_digest_tells_status_exceptions_expiring_soon_and_last_good_check(sim, tenant_id, monkeypatch):
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", "smtp-guard@contoso.com")
    domain = "digest.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=True)
    tenant.seed(20, overrides={2: False, 3: False})
    soon = (datetime.now(UTC) + timedelta(days=5)).date()
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        await svc.desired.put_exception(tenant_id, approved(tenant.mailbox_at(2), soon))
        await svc.desired.put_exception(tenant_id, approved(tenant.mailbox_at(9)))
    await scheduled_check(Settings.from_env())  # history: one finding open (mailbox 3)
    sim.reset_records()

    digest = load_app(monkeypatch)["weekly_digest"].get_user_function()
    await digest(TimerRequest(past_due=False))
    (post,) = sim.teams_posts
    (mail,) = sim.sent_mails
    text = card_text(post.card)
    assert f"Weekly SMTP AUTH summary: {domain}" in text
    assert "drift: 1 open finding; 1 exception expiring within 14 days" in text
    assert "Open drift (1)" in text and tenant.mailbox_at(3).address in text
    assert "Expiring within 14 days (1)" in text and f"{tenant.mailbox_at(2).address}" in text
    assert f"expires {soon.isoformat()} (in 5 days)" in text
    assert "Other approved exceptions (1)" in text and "Housekeeping (1)" in text  # mailbox 9: unused
    assert "Last successful check: " in text and "Last successful check: never" not in text
    assert mail.subject.startswith(f"[SMTP AUTH Guard] Weekly SMTP AUTH summary: {domain}")

    await digest(TimerRequest(past_due=False))  # a second run the same day sends nothing new
    assert len(sim.teams_posts) == len(sim.sent_mails) == 1


async def test_a_malformed_run_row_is_named_where_it_is_read(tenant_id, app_env, caplog):
    table = f"{app_env['SMTPAUTH_TABLE_PREFIX']}Runs"
    row = {"PartitionKey": tenant_id, "RowKey": "0" * 20, "CheckedAt": datetime.now(UTC), "Status": "fine"}
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, "edited.onmicrosoft.com"))
        TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
            table
        ).create_entity(row)
        assert await svc.notifier.queue_digests(await svc.desired.load(tenant_id), svc.history) == 0
    assert f"table {table!r}, tenant {tenant_id!r}, row {row['RowKey']!r}, property 'Status'" in caplog.text
    assert "KeyError" not in caplog.text
