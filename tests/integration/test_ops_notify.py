"""A broken row still reaches a person (Azurite, the simulator's webhooks and Graph
sendMail): operators named in app settings hear every tenant's could-not-check, the
row's own recipients hear it when those fields parse, copies are queued once, and
``exception list`` shows what parses with the row's error."""

from __future__ import annotations

import asyncio

import pytest

from shared.shell.cycle import run_cycle
from shared.shell.engine import check_tenants
from shared.shell.jobs import scheduled_check
from shared.shell.settings import Settings
from shared.store.rows import exception_entity

from .helpers import approved, services
from .notify_helpers import TEAMS_SETTING, card_text, notified_policy
from .test_cli import cli

pytestmark = pytest.mark.usefixtures("app_env")

OPS_SETTING = "SMTPAUTH_TEST_OPS_WEBHOOK"
OPS_EMAIL = "noc@msp.example"
SENDER = "smtp-guard@contoso.com"


def workflow(url: str) -> str:
    return url.split("/workflows/")[1].split("/")[0]


@pytest.fixture
def hooks(sim, monkeypatch) -> dict[str, str]:
    """The tenant's webhook and the operators', by their workflow ids."""
    own, ops = sim.add_teams_webhook(), sim.add_teams_webhook()
    monkeypatch.setenv(TEAMS_SETTING, own)
    monkeypatch.setenv(OPS_SETTING, ops)
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)
    monkeypatch.setenv("SMTPAUTH_OPS_EMAIL", OPS_EMAIL)
    monkeypatch.setenv("SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING", OPS_SETTING)
    return {workflow(own): "tenant", workflow(ops): "ops"}


def posted(sim, hooks) -> list[tuple[str, str]]:
    return [(hooks[p.workflow], card_text(p.card).splitlines()[0]) for p in sim.teams_posts]


def mailed(sim) -> list[tuple[tuple[str, ...], str]]:
    return [(tuple(m.to), m.subject.split(":")[0]) for m in sim.sent_mails]


async def put_rows(tenant_id, *entities):
    async with services() as svc:
        for entity in entities:
            await svc.desired._table.upsert_entity({"PartitionKey": tenant_id, **entity})


async def test_a_broken_row_reaches_its_own_recipients_and_the_operators_once(sim, tenant_id, hooks):
    domain = "broken.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(10)
    await put_rows(
        tenant_id,
        {
            "RowKey": "tenant",
            "InitialDomain": domain,
            "Mode": "remidiate",  # a typo: the row does not validate
            "NotifyEmail": "secops@contoso.com",
            "NotifyTeamsWebhookSetting": TEAMS_SETTING,
        },
    )
    await scheduled_check(Settings.from_env())
    title = f"Could not check SMTP AUTH in {tenant_id}"
    assert sorted(posted(sim, hooks)) == [("ops", title), ("tenant", title)]
    assert sorted(mailed(sim)) == [
        ((OPS_EMAIL,), f"[SMTP AUTH Guard] {title}"),
        (("secops@contoso.com",), f"[SMTP AUTH Guard] {title}"),
    ]
    text = card_text(sim.teams_posts[0].card)
    assert "field 'Mode'" in text and "remidiate" in text

    await scheduled_check(Settings.from_env())  # still broken: told already, nothing new
    assert (len(sim.teams_posts), len(sim.sent_mails)) == (2, 2)
    async with services() as svc:
        rows = await svc.notifier.outbox.rows(tenant_id)
    assert sorted(r.row_key.split(":", 3)[3] for r in rows) == ["email", "email:ops", "teams", "teams:ops"]


async def test_overlapping_runs_queue_the_ops_copies_once(sim, tenant_id, hooks):
    domain = "overlap-ops.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(5)
    await put_rows(tenant_id, {"RowKey": "tenant", "InitialDomain": domain, "EvidenceDays": "lots"})
    async with services() as one, services() as two:
        results = await check_tenants(one)
        queued = await asyncio.gather(
            one.notifier.queue_results(results, one.history), two.notifier.queue_results(results, two.history)
        )
        assert sorted(queued) == [0, 1]
        assert await one.notifier.queue_results(results, one.history) == 0
        rows = await one.notifier.outbox.rows(tenant_id)
        # The row names nobody that parses: the operators' copies alone.
        assert sorted(r.row_key.split(":", 3)[3] for r in rows) == ["email:ops", "teams:ops"]
        await asyncio.gather(one.notifier.deliver([tenant_id]), two.notifier.deliver([tenant_id]))
    assert posted(sim, hooks) == [("ops", f"Could not check SMTP AUTH in {tenant_id}")]
    assert mailed(sim) == [((OPS_EMAIL,), f"[SMTP AUTH Guard] Could not check SMTP AUTH in {tenant_id}")]


async def test_operators_hear_could_not_check_and_recovery_but_not_drift(sim, tenant_id, hooks):
    domain = "opsflow.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False)
    tenant.seed(10)
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        await run_cycle(svc)
        assert [who for who, _ in posted(sim, hooks)] == ["tenant"]  # drift: the tenant's people only
        assert mailed(sim)[0][0] == notified_policy(tenant_id, domain).notify_email

        tenant.forbidden = "The identity has no Exchange role in this organization."
        await run_cycle(svc)
        tenant.forbidden = False
        await run_cycle(svc)
    ops = [title for who, title in posted(sim, hooks) if who == "ops"]
    assert ops == [
        f"Could not check SMTP AUTH in {domain}",
        f"Checks of {domain} work again; SMTP AUTH drift is open",
    ]
    assert [subject for to, subject in mailed(sim) if to == (OPS_EMAIL,)] == [
        f"[SMTP AUTH Guard] {title}" for title in ops
    ]


def test_exception_list_shows_what_parses_and_the_row_error(sim, tenant_id):
    domain = "listbroken.onmicrosoft.com"
    mailbox = sim.add_tenant(tenant_id, domain).add_mailbox(f"scanner@{domain}", smtp_auth_disabled=False)
    asyncio.run(
        put_rows(
            tenant_id,
            {"RowKey": "tenant", "InitialDomain": domain, "Mode": "remidiate"},
            exception_entity(tenant_id, approved(mailbox)),
        )
    )
    listed = cli("exception", "list", "--tenant", tenant_id)
    assert listed.returncode == 2
    assert mailbox.address in listed.stdout and "scan to mail" in listed.stdout
    assert "no tenant row" not in listed.stderr
    assert "row 'tenant', field 'Mode'" in listed.stderr and "does not validate" in listed.stderr
