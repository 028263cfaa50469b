"""The outbox's pure decisions: retry schedule, idempotency keys, targets, webhook
URL checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.adapters.teams_webhook import describe, redact, webhook_url
from shared.core.delivery import Channel, DeliveryError, Stream, Target
from shared.notify.outbox_rules import BACKOFF_MAX, backoff, next_attempt, notification_key, targets

from .notify_values import NOW, POLICY

SIG = "s3cr3tSignatureValue0123456789abcdef"
HOOK = f"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"


def test_backoff_doubles_from_ten_minutes_up_to_six_hours():
    waits = [backoff(n) for n in range(1, 10)]
    assert waits[:6] == [timedelta(minutes=m) for m in (10, 20, 40, 80, 160, 320)]
    assert waits[6:] == [BACKOFF_MAX] * 3
    assert backoff(0) == timedelta(0)
    assert sum(waits[:7], timedelta()) < timedelta(hours=17)  # 8 attempts: given up within a day


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    assert next_attempt(1, NOW) == NOW + timedelta(minutes=10)
    assert next_attempt(1, NOW, retry_after=3600) == NOW + timedelta(hours=1)
    assert next_attempt(1, NOW, retry_after=5) == NOW + timedelta(minutes=10)


def test_idempotency_key_follows_the_events_and_the_notification_before():
    key = notification_key(Stream.EVENTS, "T", 4, ["b", "a", "a"])
    assert key == notification_key(Stream.EVENTS, "t", 4, ["a", "b"])  # order, duplicates, case
    assert key != notification_key(Stream.EVENTS, "T", 5, ["a", "b"])  # a later episode
    assert key != notification_key(Stream.EVENTS, "T2", 4, ["a", "b"])
    assert key != notification_key(Stream.DIGEST, "T", 4, ["a", "b"])
    assert key != notification_key(Stream.EVENTS, "T", 4, ["a"])


def test_targets_name_the_setting_never_a_url():
    assert targets(POLICY) == (
        Target(Channel.TEAMS, "TEAMS_HOOK"),
        Target(Channel.EMAIL, "secops@contoso.com"),
    )
    two = replace(POLICY, notify_email=("a@x.com", "b@x.com"), notify_teams_setting=None)
    assert targets(two) == (Target(Channel.EMAIL, "a@x.com;b@x.com"),)
    assert targets(None) == ()


def test_webhook_url_is_read_from_the_named_setting():
    assert webhook_url("HOOK", {"HOOK": f"  {HOOK} "}) == HOOK
    assert webhook_url("HOOK", {"HOOK": "http://127.0.0.1:8080/workflows/x?sig=abc"})
    # The trigger URLs Power Automate has handed out since 2025, on the default port or :443.
    new = (
        "https://0f1e2d3c4b5a.09.environment.api.powerplatform.com:443/powerautomate/automations/direct"
        f"/workflows/86ffea63/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
    )
    assert webhook_url("HOOK", {"HOOK": new}) == new
    assert webhook_url("HOOK", {"HOOK": HOOK.replace(":443", "")})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "missing or empty"),
        ("@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/hook/)", "Key Vault reference"),
        (HOOK.replace("https://", "http://"), "https://"),
        (HOOK.replace("https://", "https://user:pw@"), "user name or password"),
        (HOOK + "#frag", "fragment"),
        ("not a url " + SIG, "https://"),
        ("https://[::1/workflows?sig=" + SIG, "not hold a valid URL"),
        # Only Teams Workflows / Power Automate trigger hosts: never a look-alike.
        (HOOK.replace("logic.azure.com", "logic.azure.com.evil.example"), "not a Teams Workflows"),
        (HOOK.replace("prod-12.westeurope.logic", "prod-12.westeurope-logic"), "not a Teams Workflows"),
        (HOOK.replace("prod-12.westeurope.logic.azure.com", "203.0.113.9"), "not a Teams Workflows"),
        (HOOK.replace("prod-12.westeurope.logic.azure.com", "logic.azure.com."), "not a Teams Workflows"),
        (HOOK.replace("prod-12.westeurope.logic.azure.com", "hooks.slack.com"), "not a Teams Workflows"),
        (HOOK.replace(":443", ":8443"), "port 443"),
        ("https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d?sig=" + SIG, "retired"),
        (HOOK.replace("&sig=" + SIG, ""), "no sig= signature"),
    ],
)
def test_bad_webhook_settings_are_explained_without_the_value(value, problem):
    with pytest.raises(DeliveryError, match=problem) as caught:
        webhook_url("TEAMS_HOOK", {"TEAMS_HOOK": value})
    assert "TEAMS_HOOK" in str(caught.value)
    assert SIG not in str(caught.value) and "pw@" not in str(caught.value)


def test_a_url_is_described_and_redacted_without_its_secret():
    assert describe(HOOK) == "https://prod-12.westeurope.logic.azure.com/…"
    text = f"POST {HOOK} failed; sig={SIG}"
    assert SIG not in redact(text, HOOK) and "logic.azure.com" not in redact(text, HOOK)
