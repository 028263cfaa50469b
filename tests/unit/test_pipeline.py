"""The retry jitter both pipelines share: azure-core's backoff, spread by ±20%, so
clients throttled together do not come back together."""

from __future__ import annotations

from typing import Any

from shared.adapters.exchange_transport import ExchangeRetryPolicy
from shared.adapters.pipeline import JitteredRetryPolicy
from shared.adapters.teams_webhook import WebhookRetryPolicy


def settings_after(policy: JitteredRetryPolicy, errors: int) -> dict[str, Any]:
    settings = policy.configure_retries({})
    settings["history"] = [object()] * errors
    return settings


def test_backoff_is_azure_cores_spread_by_a_fifth() -> None:
    policy = JitteredRetryPolicy(retry_backoff_factor=1.0, retry_backoff_max=60)
    settings = settings_after(policy, 3)  # azure-core: factor * 2 ** (3 - 1) = 4 s
    waits = {policy.get_backoff_time(settings) for _ in range(200)}
    assert all(3.2 <= w <= 4.8 for w in waits)
    assert len(waits) > 100  # spread, not one value


def test_no_backoff_before_the_second_error_stays_zero() -> None:
    policy = JitteredRetryPolicy()
    assert policy.get_backoff_time(settings_after(policy, 1)) == 0


def test_exchange_and_teams_retries_are_the_shared_one() -> None:
    assert isinstance(ExchangeRetryPolicy(), JitteredRetryPolicy)
    assert isinstance(WebhookRetryPolicy(), JitteredRetryPolicy)
