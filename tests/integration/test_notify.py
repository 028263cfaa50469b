"""Notifications end to end: history in Azurite, Exchange, Graph sendMail (the real
msgraph-sdk client) and a Teams Workflows webhook in the simulator. Assertions are
on what arrived at the simulator and what the outbox holds."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from shared.adapters.teams_webhook import TeamsSender
from shared.core.delivery import Channel, State, Stream, Target
from shared.notify.dispatch import NotifyConfig
from shared.shell.cycle import run_cycle
from shared.shell.engine import check_tenants
from shared.shell.jobs import scheduled_check
from shared.shell.settings import Settings
from shared.store.outbox import MAX_PAYLOAD_CHARS

from .helpers import services
from .notify_helpers import (
    RECIPIENTS,
    SENDER,
    TEAMS_SETTING,
    card_text,
    notified_policy,
    raw_card,
    start_clock,
)

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
def webhook(sim, monkeypatch) -> str:
    url = sim.add_teams_webhook()
    monkeypatch.setenv(TEAMS_SETTING, url)
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)
    return url


def drifted(sim, tenant_id, domain, *, org=False, overrides=None, count=30):
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=org)
    tenant.seed(count, overrides=overrides if overrides is not None else {4: False})
    return tenant


async def watch(tenant_id, domain, **policy):
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, **policy))


async def rows(tenant_id):
    async with services() as svc:
        return {r.channel: r for r in await svc.notifier.outbox.rows(tenant_id)}


@pytest.mark.usefixtures("webhook")
async def test_drift_opened_then_nothing_then_resolved(sim, tenant_id):
    domain = "cycle.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain)
    rogue = tenant.mailbox_at(4)
    await watch(tenant_id, domain)

    await scheduled_check(Settings.from_env())
    (post,) = sim.teams_posts
    (mail,) = sim.sent_mails
    text = card_text(post.card)
    assert f"SMTP AUTH drift found in {domain}" in text
    assert rogue.address in text and "Organization (Set-TransportConfig)" in text
    assert (
        "SMTP AUTH ON, policy: off" in text
        and "Set-TransportConfig -SmtpClientAuthenticationDisabled $true" in text
    )
    assert f"smtp-auth-guard exception add --tenant {tenant_id}" in text
    assert post.size <= 20 * 1024 and post.payload["type"] == "message"
    assert (mail.sender, mail.to, mail.content_type) == (SENDER, RECIPIENTS, "html")
    assert mail.subject == f"[SMTP AUTH Guard] SMTP AUTH drift found in {domain}: org SMTP AUTH ON, 2 new"
    assert mail.save_to_sent_items is False and rogue.address in mail.content
    (send,) = [r for r in sim.requests if r.path.endswith("/sendMail")]
    assert send.bearer and send.path == f"/v1.0/users/{SENDER}/sendMail"

    await scheduled_check(Settings.from_env())
    assert (len(sim.teams_posts), len(sim.sent_mails)) == (1, 1)  # nothing changed: nothing sent

    tenant.set_override(rogue.guid, None)
    tenant.set_org_setting(True)
    await scheduled_check(Settings.from_env())
    assert (len(sim.teams_posts), len(sim.sent_mails)) == (2, 2)
    resolved = card_text(sim.teams_posts[-1].card)
    assert f"SMTP AUTH drift resolved in {domain}" in resolved and rogue.address in resolved
    assert sim.sent_mails[-1].subject == f"[SMTP AUTH Guard] SMTP AUTH drift resolved in {domain}: 2 resolved"
    async with services() as svc:
        assert {r.state for r in await svc.notifier.outbox.rows(tenant_id)} == {State.SENT}


@pytest.mark.usefixtures("webhook")
async def test_a_webhook_500_stays_in_the_outbox_and_is_sent_on_a_later_run(sim, tenant_id, caplog):
    domain = "retry.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    clock = start_clock()
    sim.faults.fail(500, "The flow run failed.", times=2, service="teams")  # the post and its quick retry
    async with services(clock) as svc:
        first = (await run_cycle(svc)).delivery
        assert [s.split(":")[0] for s in first.sent] == ["email"] and len(first.failed) == 1
        (teams,) = [r for r in await svc.notifier.outbox.rows(tenant_id) if r.channel == "teams"]
        assert (teams.state, teams.attempts) == (State.PENDING, 1)
        assert "HTTP 500" in teams.last_error and "The flow run failed." in teams.last_error
        assert sim.teams_posts == []

        clock.advance(minutes=5)  # the next run comes before the backoff (10 minutes) is over
        early = (await run_cycle(svc)).delivery
        assert early.sent == early.failed == []
        clock.advance(minutes=10)
        later = (await run_cycle(svc)).delivery
        assert [s.split(":")[0] for s in later.sent] == ["teams"]
    assert len(sim.teams_posts) == 1 and len(sim.sent_mails) == 1
    assert "Sent again" not in card_text(sim.teams_posts[0].card)  # a 500 is an answer: not a repeat
    assert "retrying from" in caplog.text


@pytest.mark.usefixtures("webhook")
async def test_graph_429_and_503_keep_the_mail_for_later_honouring_retry_after(sim, tenant_id):
    domain = "throttled.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    clock = start_clock()
    # Retry-After of an hour: too long to wait in the run (the SDK does not either).
    sim.faults.throttle(times=1, retry_after=3600, service="graph-mail")
    async with services(clock) as svc:
        await run_cycle(svc)
        email = (await rows(tenant_id))["email"]
        assert email.state is State.PENDING and "HTTP 429" in email.last_error
        assert sim.sent_mails == [] and len(sim.teams_posts) == 1

        clock.advance(minutes=59)
        assert (await run_cycle(svc)).delivery.sent == []  # Retry-After not over yet
        sim.faults.unavailable(times=2, status=503, service="graph-mail")  # and its quick retry
        clock.advance(minutes=2)
        again = (await run_cycle(svc)).delivery
        assert again.failed and "HTTP 503" in (await rows(tenant_id))["email"].last_error

        clock.advance(minutes=25)
        last = (await run_cycle(svc)).delivery
        assert [s.split(":")[0] for s in last.sent] == ["email"]
    (mail,) = sim.sent_mails
    assert mail.subject.startswith(f"[SMTP AUTH Guard] SMTP AUTH drift found in {domain}")
    assert (await rows(tenant_id))["email"].attempts == 3


@pytest.mark.usefixtures("webhook")
async def test_a_short_retry_after_is_waited_out_in_the_run(sim, tenant_id):
    domain = "brief.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    sim.faults.throttle(times=1, retry_after=1, service="graph-mail")
    async with services() as svc:
        done = (await run_cycle(svc)).delivery
    assert sorted(s.split(":")[0] for s in done.sent) == ["email", "teams"]
    assert sim.faults.fired == {"throttle": 1}
    assert len(sim.sent_mails) == len(sim.teams_posts) == 1


@pytest.mark.usefixtures("webhook")
async def test_a_timed_out_post_is_retried_later(sim, tenant_id):
    domain = "slow.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    clock = start_clock()
    sim.faults.slow(0.5, times=1, service="teams")
    async with services(clock) as svc, TeamsSender(timeout_s=0.1) as impatient:
        svc.notifier.teams = impatient
        await run_cycle(svc)
        teams = (await rows(tenant_id))["teams"]
        assert teams.state is State.PENDING and "timed out" in teams.last_error.lower()
        clock.advance(minutes=11)
        later = (await run_cycle(svc)).delivery
        assert [s.split(":")[0] for s in later.sent] == ["teams"]
    # The slow post still completes on the server: a timeout means "maybe sent", so a
    # retry can make a second copy (at least once). Wait for it, so it stays in this test.
    for _ in range(50):
        if len([r for r in sim.requests if "/workflows/" in r.path]) == 2:
            break
        await asyncio.sleep(0.1)
    # Exactly once cannot be promised for a post that got no answer; what can: one
    # repeat at most, and the repeat says it may be one, so nobody takes it for news.
    assert 1 <= len(sim.teams_posts) <= 2
    repeat = [card_text(p.card) for p in sim.teams_posts if "Sent again" in card_text(p.card)]
    assert len(repeat) == 1 and "this is the same notification, not a new event" in repeat[0]
    assert (await rows(tenant_id))["teams"].state is State.SENT


@pytest.mark.usefixtures("webhook")
async def test_given_up_after_the_limit_and_reported_in_the_next_message(sim, tenant_id, caplog):
    domain = "dead.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    clock = start_clock()
    config = replace(NotifyConfig.from_settings(Settings.from_env()), max_attempts=2)
    sim.faults.fail(500, "The flow is turned off.", times=4, service="teams")
    async with services(clock, config) as svc:
        await run_cycle(svc)
        clock.advance(minutes=11)
        second = (await run_cycle(svc)).delivery
        assert second.dead == [f"teams: SMTP AUTH drift found in {domain}"]
        assert (await rows(tenant_id))["teams"].state is State.DEAD
        assert "gave up on teams" in caplog.text

        tenant.set_org_setting(True)  # something new to tell
        clock.advance(minutes=15)
        third = (await run_cycle(svc)).delivery
        assert sorted(s.split(":")[0] for s in third.sent) == ["email", "teams"]
        dead = [r for r in await svc.notifier.outbox.rows(tenant_id) if r.state is State.DEAD]
        assert await svc.notifier.outbox.undelivered(tenant_id) == []  # reported now
    first_mail, next_mail = sim.sent_mails
    assert "could not be delivered" not in first_mail.content
    assert "Earlier notifications that could not be delivered (1)" in next_mail.content
    assert (
        f"SMTP AUTH drift found in {domain}" in next_mail.content
        and "The flow is turned off." in next_mail.content
    )
    assert len(dead) == 1 and len(sim.teams_posts) == 1  # the new message got through


@pytest.mark.usefixtures("webhook")
async def test_overlapping_runs_send_once(sim, tenant_id):
    domain = "overlap.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    async with services() as svc, services() as other:
        one, two = svc.notifier, other.notifier
        results = await check_tenants(svc)
        # Two runs that saw the same change queue it at the same moment, then both deliver.
        queued = await asyncio.gather(
            one.queue_results(results, svc.history), two.queue_results(results, svc.history)
        )
        assert sorted(queued) == [0, 1]
        assert await one.queue_results(results, svc.history) == 0  # the same run, retried
        assert len(await one.outbox.rows(tenant_id)) == 2  # one copy per channel
        first, second = await asyncio.gather(one.deliver([tenant_id]), two.deliver([tenant_id]))
    assert sorted(first.sent + second.sent) == sorted(
        [f"teams: SMTP AUTH drift found in {domain}", f"email: SMTP AUTH drift found in {domain}"]
    )
    assert len(sim.teams_posts) == 1 and len(sim.sent_mails) == 1


@pytest.mark.usefixtures("webhook")
async def test_reminder_after_a_day_of_open_drift(sim, tenant_id):
    domain = "remind.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    clock = start_clock()
    began = clock.now
    async with services(clock) as svc:
        await run_cycle(svc)
        clock.advance(hours=1)
        await run_cycle(svc)
        assert len(sim.teams_posts) == 1
        clock.advance(hours=23)
        await run_cycle(svc)
        assert len(sim.teams_posts) == 2
        clock.advance(hours=1)
        await run_cycle(svc)
    assert len(sim.teams_posts) == len(sim.sent_mails) == 2
    reminder = card_text(sim.teams_posts[-1].card)
    assert f"Reminder: SMTP AUTH drift still open in {domain}" in reminder
    assert f"since {began:%Y-%m-%d %H:%M} UTC" in reminder


@pytest.mark.usefixtures("webhook")
async def test_could_not_check_then_recovered(sim, tenant_id):
    domain = "flaky.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain, org=True, overrides={})
    await watch(tenant_id, domain)
    tenant.forbidden = "The identity has no Exchange role in this organization."
    async with services() as svc:
        await run_cycle(svc)
        await run_cycle(svc)
        tenant.forbidden = False
        await run_cycle(svc)
    failed, back = (card_text(p.card) for p in sim.teams_posts)
    assert f"Could not check SMTP AUTH in {domain}" in failed and "no Exchange role" in failed
    assert f"Checks of {domain} work again" in back


@pytest.mark.usefixtures("webhook")
async def test_hostile_mailbox_names_are_escaped_in_what_arrives(sim, tenant_id):
    domain = "hostile.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain, org=True, overrides={})
    evil = f"x*_[pay](https://evil.example)<script>alert(1)</script>`日本語`@{domain}"
    tenant.add_mailbox(evil, display_name="<b>Boss</b>", smtp_auth_disabled=False)
    await watch(tenant_id, domain)
    await scheduled_check(Settings.from_env())
    (post,) = sim.teams_posts
    raw = raw_card(post.card)
    # In text runs, which no client reads as Markdown: as it is, no escapes, no link.
    assert '"TextBlock"' not in raw and "\\\\" not in raw and "selectAction" not in raw
    assert evil in card_text(post.card).replace("\u2060", "")  # shown as it is (the URL not clickable)
    (mail,) = sim.sent_mails
    assert "<script" not in mail.content and "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.content
    assert "`日本語`" in mail.content


@pytest.mark.usefixtures("webhook")
async def test_webhook_signature_and_tokens_never_reach_logs_or_the_outbox(
    sim, tenant_id, webhook, caplog, monkeypatch
):
    domain = "secret.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    sig = webhook.rsplit("sig=", 1)[1]
    monkeypatch.setenv(TEAMS_SETTING, webhook.replace(sig, sig[::-1]))  # a wrong signature: 401
    caplog.set_level(logging.DEBUG)
    clock = start_clock()
    async with services(clock) as svc:
        await run_cycle(svc)
        teams = (await rows(tenant_id))["teams"]
        assert "HTTP 401" in teams.last_error and TEAMS_SETTING in teams.last_error
        monkeypatch.setenv(TEAMS_SETTING, webhook.replace(str(sim.port), "1"))  # nothing listens
        clock.advance(minutes=11)
        await run_cycle(svc)
        teams = (await rows(tenant_id))["teams"]
        assert teams.attempts == 2 and teams.state is State.PENDING
    for secret in (sig, sig[::-1]):
        assert secret not in caplog.text and secret not in teams.last_error
    assert "sig=REDACTED" in caplog.text or "REDACTED" in caplog.text  # azure-core's logger saw the URL
    assert "Bearer " not in caplog.text


NOT_A_MAILBOX = "SMTPAUTH_MAIL_SENDER is not a licensed mailbox"
NOT_GRANTED = "Mail.Send is not granted"


def refuse_sender(sim, how: str) -> None:
    if how == "no Mail.Send":
        sim.mail_send_granted = False
    elif how == "access policy":
        sim.mail_senders = ["someone-else@contoso.com"]
    else:
        sim.set_mail_sender_problem(SENDER, how)


def accept_sender(sim) -> None:
    sim.mail_send_granted, sim.mail_senders = True, None
    sim.set_mail_sender_problem(SENDER, None)


@pytest.mark.usefixtures("webhook")
@pytest.mark.parametrize(
    ("how", "status", "fix"),
    [
        ("ErrorInvalidUser", "HTTP 404 ErrorInvalidUser", NOT_A_MAILBOX),
        ("ResourceNotFound", "HTTP 404 ResourceNotFound", NOT_A_MAILBOX),
        ("MailboxNotEnabledForRESTAPI", "HTTP 404 MailboxNotEnabledForRESTAPI", NOT_A_MAILBOX),
        ("no Mail.Send", "HTTP 403 ErrorAccessDenied", NOT_GRANTED),
        ("access policy", "HTTP 403 ErrorAccessDenied", NOT_GRANTED),
    ],
)
async def test_a_mail_refusal_no_retry_can_cure_is_given_up_at_once_with_its_fix(
    sim, tenant_id, caplog, how, status, fix
):
    domain = "sender.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    refuse_sender(sim, how)
    try:
        async with services(start_clock()) as svc:
            done = (await run_cycle(svc)).delivery
    finally:
        accept_sender(sim)
    assert done.dead == [f"email: SMTP AUTH drift found in {domain}"] and done.failed == []
    email = (await rows(tenant_id))["email"]
    assert (email.state, email.attempts) == (State.DEAD, 1)  # not 8 tries over 16 hours
    assert status in email.last_error and fix in email.last_error
    assert "gave up on email" in caplog.text and fix in caplog.text
    # Told in the next message that got through: this run's Teams copy.
    (post,) = sim.teams_posts
    text = card_text(post.card)
    assert "Earlier notifications that could not be delivered (1)" in text and fix in text
    assert sim.sent_mails == []
    async with services() as svc:
        assert await svc.notifier.outbox.undelivered(tenant_id) == []  # reported once


@pytest.mark.parametrize("status", [400, 413])
@pytest.mark.usefixtures("webhook")
async def test_a_card_the_webhook_refuses_for_good_is_given_up_at_once_and_told_by_mail(
    sim, tenant_id, caplog, status
):
    """400 (the trigger cannot read the post) and 413 (too large) answer the same card
    the same way every time: one try, then the mail says so; never eight tries."""
    domain = "refused.onmicrosoft.com"
    tenant = drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    clock = start_clock()
    sim.faults.fail(status, "The request content is not valid.", times=None, service="teams")
    async with services(clock) as svc:
        first = (await run_cycle(svc)).delivery
        assert first.dead == [f"teams: SMTP AUTH drift found in {domain}"] and first.failed == []
        teams = (await rows(tenant_id))["teams"]
        assert (teams.state, teams.attempts) == (State.DEAD, 1)
        assert f"HTTP {status}" in teams.last_error
        assert "gave up on teams" in caplog.text

        clock.advance(hours=2)  # past every backoff: nothing is tried again
        assert (await run_cycle(svc)).delivery.dead == []
        tenant.set_override(tenant.mailbox_at(4).guid, None)  # the drift is fixed by hand
        clock.advance(hours=2)
        await run_cycle(svc)
    posts = [r for r in sim.requests if "/workflows/" in r.path]
    assert len(posts) == 2  # the drift's card once, the resolved card once: no retry
    drift_mail, resolved_mail = sim.sent_mails
    assert "could not be delivered" not in drift_mail.content  # sent before the refusal
    assert "Earlier notifications that could not be delivered (1)" in resolved_mail.content
    async with services() as svc:
        undelivered = await svc.notifier.outbox.undelivered(tenant_id)
    assert [r.channel for r in undelivered] == ["teams"]  # the resolved card, refused too


@pytest.mark.usefixtures("webhook")
async def test_a_new_grant_is_said_to_take_hours_to_reach_the_token(sim, tenant_id):
    domain = "grant.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    sim.mail_send_granted = False
    try:
        async with services() as svc:
            await run_cycle(svc)
    finally:
        accept_sender(sim)
    assert "up to about 8 hours" in (await rows(tenant_id))["email"].last_error


async def test_no_recipients_no_outbox(sim, tenant_id):
    domain = "quiet.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    async with services() as svc:
        await svc.desired.put_tenant(
            replace(notified_policy(tenant_id, domain), notify_email=(), notify_teams_setting=None)
        )
        await run_cycle(svc)
        assert await svc.notifier.outbox.rows(tenant_id) == []
    assert sim.teams_posts == [] and sim.sent_mails == []


@pytest.mark.usefixtures("webhook")
async def test_a_check_from_the_cli_queues_and_the_next_scheduled_run_sends(sim, tenant_id):
    from .test_cli import cli

    domain = "cli-notify.onmicrosoft.com"
    drifted(sim, tenant_id, domain)
    await watch(tenant_id, domain)
    done = await asyncio.to_thread(cli, "check", "--tenant", tenant_id)
    assert done.returncode == 1 and "1 notification(s) queued" in done.stderr
    assert sim.teams_posts == [] and sim.sent_mails == []  # the workstation sends nothing

    await scheduled_check(Settings.from_env())  # sees no change itself, but sends the queue
    (post,) = sim.teams_posts
    assert f"SMTP AUTH drift found in {domain}" in card_text(post.card)
    assert len(sim.sent_mails) == 1


async def test_the_mail_sender_closes_its_connections(sim, monkeypatch):
    """msgraph-core does not pass aclose() to its transport; MailSender.close() must
    still leave no socket open (a ResourceWarning when collected)."""
    import gc
    import warnings

    from shared.adapters.credentials import managed_identity
    from shared.adapters.sendmail import MailSender

    async with managed_identity(None) as credential:
        sender = MailSender(credential, sim.url)
        await sender.send(SENDER, list(RECIPIENTS), "subject", "<p>body</p>")
        await sender.close()
    del sender
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert len(sim.sent_mails) == 1


async def test_a_row_that_cannot_be_read_is_given_up_not_retried_forever(tenant_id):
    clock = start_clock()
    async with services(clock) as svc:
        await svc.notifier.outbox._table.create_entity(
            {
                "PartitionKey": tenant_id,
                "RowKey": "msg:events:0000000001:teams",
                "Channel": "teams",
                "Address": TEAMS_SETTING,
                "Title": "written by an older release",
                "Payload": '{"title": "no other fields"}',
                "State": "pending",
                "Attempts": 0,
                "CreatedAt": clock.now,
                "NextAttempt": clock.now,
                "Reported": False,
            }
        )
        done = await svc.notifier.deliver([tenant_id])
        assert done.dead == ["teams: written by an older release"]
        (row,) = await svc.notifier.outbox.rows(tenant_id)
        assert row.state is State.DEAD and "unreadable message" in row.last_error


async def test_the_outbox_refuses_a_payload_it_cannot_keep_whole(tenant_id):
    async with services() as svc:
        with pytest.raises(ValueError, match="does not fit"):
            await svc.notifier.outbox.enqueue(
                tenant_id,
                Stream.EVENTS,
                lambda _: "key",
                "too big",
                "x" * (MAX_PAYLOAD_CHARS + 1),
                [Target(Channel.EMAIL, RECIPIENTS[0])],
                start_clock().now,
            )
        assert await svc.notifier.outbox.rows(tenant_id) == []


@pytest.mark.usefixtures("webhook")
async def test_overlapping_runs_that_queue_at_different_moments_send_once(sim, tenant_id):
    """Run B compared with the same history as run A but queues after A delivered."""
    domain = "stagger.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False).seed(10, overrides={4: False})
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
    clock_a, clock_b = start_clock(), start_clock()
    clock_b.advance(minutes=1)
    async with services(clock_a) as svc_a, services(clock_b) as svc_b:
        run_a, run_b = await asyncio.gather(check_tenants(svc_a), check_tenants(svc_b))
        # Usually both compared with the same (empty) history and saw the same change;
        # if B happened to read after A wrote, it saw nothing new. Either way: one message.
        assert run_a[0].diff.opened or run_b[0].diff.opened
        await svc_a.notifier.queue_results(run_a, svc_a.history)
        await svc_a.notifier.deliver([tenant_id])
        await svc_b.notifier.queue_results(run_b, svc_b.history)
        await svc_b.notifier.deliver([tenant_id])
    assert len(sim.teams_posts) == 1 and len(sim.sent_mails) == 1


@pytest.mark.usefixtures("webhook")
async def test_the_card_keeps_to_the_configured_budget(sim, tenant_id, monkeypatch):
    domain = "budget.onmicrosoft.com"
    drifted(sim, tenant_id, domain, overrides={i: False for i in range(120)}, count=120)
    await watch(tenant_id, domain)
    monkeypatch.setenv("SMTPAUTH_CARD_MAX_KB", "6")
    config = NotifyConfig.from_settings(Settings.from_env())
    async with services(start_clock(), config) as svc:
        await run_cycle(svc)
    (post,) = sim.teams_posts
    assert post.size <= 6 * 1024
    assert "… and " in card_text(post.card)  # the rest of the 120 mailboxes, counted


@pytest.mark.usefixtures("webhook")
async def test_a_card_the_flow_drops_is_sent_as_far_as_anyone_can_tell(sim, tenant_id, monkeypatch):
    """Why the budget stays at 20 KB: past about 21 KB Workflows still answers 202,
    then its flow run fails; the outbox can only say "accepted"."""
    domain = "dropped.onmicrosoft.com"
    drifted(sim, tenant_id, domain, overrides={i: False for i in range(300)}, count=300)
    await watch(tenant_id, domain)
    monkeypatch.setenv("SMTPAUTH_CARD_MAX_KB", "27")
    config = NotifyConfig.from_settings(Settings.from_env())
    async with services(start_clock(), config) as svc:
        done = (await run_cycle(svc)).delivery
    assert sorted(s.split(":")[0] for s in done.sent) == ["email", "teams"]
    assert (await rows(tenant_id))["teams"].state is State.SENT
    assert sim.teams_posts == []  # nobody sees it
    (run,) = sim.teams_runs
    assert run.status == "Failed" and 21_000 < run.size <= 27 * 1024
