"""``teams test``: a small card through the tenant's webhook setting, and what the
admin is told about what "accepted" means. The CLI runs as a separate process."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from .helpers import services
from .notify_helpers import TEAMS_SETTING, card_text, notified_policy
from .test_cli import cli

pytestmark = pytest.mark.usefixtures("app_env")
DOMAIN = "teams-test.onmicrosoft.com"


async def watched(tenant_id: str, **policy) -> None:
    async with services() as svc:
        await svc.desired.put_tenant(replace(notified_policy(tenant_id, DOMAIN), **policy))


def teams_test(tenant_id: str):
    return cli("teams", "test", "--tenant", tenant_id)


def assert_no_secret(done, url: str) -> None:
    sig = url.rsplit("sig=", 1)[1]
    for stream in (done.stdout, done.stderr):
        assert sig not in stream and url not in stream


async def test_posts_a_test_card_and_says_accepted_is_not_delivered(sim, tenant_id, monkeypatch):
    url = sim.add_teams_webhook()
    monkeypatch.setenv(TEAMS_SETTING, url)
    await watched(tenant_id)
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Accepted: the webhook in app setting {TEAMS_SETTING} (http://127.0.0.1/…)" in out
    assert "not that the card reached the channel" in out and "run history" in out
    probe_id = re.search(r"test id ([0-9a-f]{6})", out).group(1)
    (post,) = sim.teams_posts
    text = card_text(post.card)
    assert "SMTP AUTH Guard test message" in text and probe_id in text and DOMAIN in text
    assert f"Webhook app setting: {TEAMS_SETTING}" in text
    assert_no_secret(done, url)
    async with services() as svc:  # a diagnostic: nothing queued, nothing to resend
        assert await svc.notifier.outbox.rows(tenant_id) == []


async def test_a_flow_that_drops_the_card_still_answers_accepted(sim, tenant_id, monkeypatch):
    """What the product cannot know: the flow took the post, then its run failed."""
    url = sim.add_teams_webhook()
    sim.break_teams_flow(url)
    monkeypatch.setenv(TEAMS_SETTING, url)
    await watched(tenant_id)
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 0 and "Accepted" in done.stdout
    assert "Look in the channel" in done.stdout
    assert sim.teams_posts == []
    (run,) = sim.teams_runs
    assert run.status == "Failed" and "owner" in run.error


async def test_a_webhook_that_refuses_is_an_error_without_the_secret(sim, tenant_id, monkeypatch):
    url = sim.add_teams_webhook()
    sig = url.rsplit("sig=", 1)[1]
    monkeypatch.setenv(TEAMS_SETTING, url.replace(sig, sig[::-1]))
    await watched(tenant_id)
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 2
    assert "not accepted" in done.stderr and "HTTP 401" in done.stderr and TEAMS_SETTING in done.stderr
    assert_no_secret(done, url.replace(sig, sig[::-1]))
    assert sim.teams_posts == []


async def test_a_setting_missing_from_this_shell_says_where_it_is_read(tenant_id, monkeypatch):
    monkeypatch.delenv(TEAMS_SETTING, raising=False)
    await watched(tenant_id)
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 2
    assert f"app setting {TEAMS_SETTING} is missing or empty" in done.stderr
    assert "this shell's environment" in done.stderr

    monkeypatch.setenv(TEAMS_SETTING, "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/t/)")
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 2 and "Key Vault reference" in done.stderr and "not a Key Vault" in done.stderr


async def test_a_tenant_without_a_webhook_or_a_row(tenant_id):
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 2 and "has no tenant row" in done.stderr
    await watched(tenant_id, notify_teams_setting=None)
    done = await asyncio.to_thread(teams_test, tenant_id)
    assert done.returncode == 2 and "names no Teams webhook setting" in done.stderr
    assert "--teams-webhook-setting NAME" in done.stderr
