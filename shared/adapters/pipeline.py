"""What every azure-core pipeline of this product shares: the user agent it names
itself with, and the retry policy's jitter.

The Exchange transport and the Teams sender each teach the retry policy their own
service's facts; the jitter is common because the reason is: clients throttled
together (parallel tenants, a burst of cards) must not all come back at the same
moment.
"""

from __future__ import annotations

import random
from typing import Any

from azure.core.pipeline.policies import AsyncRetryPolicy, UserAgentPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest

USER_AGENT = "smtp-auth-guard/0.1"
JITTER = 0.2  # backoff times 0.8 to 1.2


def user_agent_policy(**kwargs: Any) -> UserAgentPolicy:
    """azure-core's user agent policy naming this product; its keywords (``user_agent``
    to prepend an application id, ``user_agent_use_env``) work as in any Azure client."""
    return UserAgentPolicy(base_user_agent=USER_AGENT, **kwargs)


class JitteredRetryPolicy(AsyncRetryPolicy[HttpRequest, AsyncHttpResponse]):
    """azure-core's async retry (Retry-After honoured as it is) with the exponential
    backoff spread by ±20%."""

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        base = super().get_backoff_time(settings)
        return base * random.uniform(1 - JITTER, 1 + JITTER) if base else base  # noqa: S311 (jitter, not crypto)
