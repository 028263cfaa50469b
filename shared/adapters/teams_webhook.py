"""Sender: POST a card to a Teams Workflows webhook.

The webhook URL is a secret (its ``sig=`` lets anyone post), so it lives in an app
setting or a Key Vault reference named by the tenant row, is read only when sending,
is validated (https, no user info, a Teams Workflows or Power Automate host,
a signature), and never appears in a log line or an error:
errors name the setting, and any text that came back with the URL in it is
redacted. Built on azure-core's async pipeline like the Exchange client, with the
same user agent and jittered retry (shared.adapters.pipeline): its retry policy
honours Retry-After; its HTTP logging policy redacts query strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from azure.core.exceptions import AzureError, ServiceRequestTimeoutError, ServiceResponseTimeoutError
from azure.core.pipeline import AsyncPipeline, PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy, HeadersPolicy, HttpLoggingPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest

from shared.adapters.pipeline import JitteredRetryPolicy, user_agent_policy
from shared.core.delivery import DeliveryError
from shared.core.validation import is_loopback

TIMEOUT_S = 30.0
# Wait in-run for a short Retry-After only; a longer one is the outbox's job.
MAX_IN_RUN_WAIT_S = 10.0


# Where Teams Workflows ("Send webhook alerts to a channel") and Power Automate
# "When a Teams webhook request is received" triggers live: the older
# prod-NN.<region>.logic.azure.com and, since Microsoft moved the trigger URLs in
# 2025, <environment>.NN.environment.api.powerplatform.com. Any other host is a
# typo, a retired Office 365 connector or someone else's endpoint: a card full of
# tenant names must not go there (docs/notifications.md).
WEBHOOK_HOST_SUFFIXES = (".logic.azure.com", ".environment.api.powerplatform.com")
RETIRED_CONNECTOR_SUFFIXES = (".webhook.office.com", "outlook.office.com", "outlook.office365.com")


def webhook_url(setting: str, env: Mapping[str, str]) -> str:
    """The webhook URL held by app setting ``setting``, validated. Errors never
    contain the value."""
    value = (env.get(setting) or "").strip()
    if not value:
        raise DeliveryError(f"app setting {setting} is missing or empty (it should hold the webhook URL)")
    if value.startswith("@Microsoft.KeyVault("):
        raise DeliveryError(
            f"app setting {setting} is a Key Vault reference the host could not resolve: give the "
            "function app's identity the 'Key Vault Secrets User' role on the vault"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise DeliveryError(f"app setting {setting} does not hold a valid URL") from None
    loopback = is_loopback(host)
    secure = parts.scheme == "https" or (parts.scheme == "http" and loopback)
    if not secure or not host:
        raise DeliveryError(f"app setting {setting} must hold an https:// webhook URL")
    if parts.username or parts.password:
        raise DeliveryError(f"app setting {setting}: the webhook URL must not carry a user name or password")
    if parts.fragment:
        raise DeliveryError(f"app setting {setting}: the webhook URL must not have a #fragment")
    if not loopback:  # the simulator and local tests post to loopback
        _check_microsoft_host(setting, host, port)
        if "sig" not in dict(parse_qsl(parts.query)):
            raise DeliveryError(
                f"app setting {setting}: the webhook URL has no sig= signature: set the trigger's "
                "'Who can trigger the flow' to 'Anyone' (the product posts without signing in)"
            )
    return value


def _check_microsoft_host(setting: str, host: str, port: int | None) -> None:
    """Refuse a webhook host that is not a Teams Workflows / Power Automate trigger host."""
    if host.endswith(RETIRED_CONNECTOR_SUFFIXES):
        raise DeliveryError(
            f"app setting {setting}: the URL is an Office 365 connector's (incoming webhook), which "
            "Teams retired: create a Workflows webhook (docs/notifications.md)"
        )
    if not host.isascii() or not host.endswith(WEBHOOK_HOST_SUFFIXES):
        raise DeliveryError(
            f"app setting {setting}: {host!r} is not a Teams Workflows or Power Automate host "
            f"(*{' or *'.join(WEBHOOK_HOST_SUFFIXES)})"
        )
    if port not in (None, 443):
        raise DeliveryError(f"app setting {setting}: the webhook URL must use port 443, not {port}")


def describe(url: str) -> str:
    """Enough of a webhook URL to tell which one it is, without its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…"


def redact(text: str, url: str) -> str:
    """``text`` with the URL, its query and every query value taken out."""
    parts = urlsplit(url)
    secrets = [url, parts.query] + [value for _, value in parse_qsl(parts.query) if len(value) >= 8]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class WebhookRetryPolicy(JitteredRetryPolicy):
    """One quick retry in the run for 429 and 5xx (Teams throttles above about 4
    posts a second); a long Retry-After is left to the outbox's next run."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("retry_total", 1)
        kwargs.setdefault("retry_backoff_factor", 0.5)
        kwargs.setdefault("retry_read", 0)  # a timed-out post may have arrived: no blind repeat
        super().__init__(**kwargs)

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        wait = self.get_retry_after(response)
        if wait is not None and wait > MAX_IN_RUN_WAIT_S:
            return False
        status = response.http_response.status_code
        if status == 429 and settings["total"]:
            return True  # the base class would not retry a bare 429 on POST
        return super().is_retry(settings, response)


class TeamsSender:
    def __init__(
        self,
        *,
        timeout_s: float = TIMEOUT_S,
        retry_policy: AsyncRetryPolicy[HttpRequest, AsyncHttpResponse] | None = None,
    ) -> None:
        # aiohttp costs about 70 ms to import: paid when a sender is built (the
        # Exchange client needs it then anyway), not by importing this module.
        from azure.core.pipeline.transport import AioHttpTransport

        self._timeout_s = timeout_s
        self._pipeline = AsyncPipeline(
            transport=AioHttpTransport(),
            policies=[
                HeadersPolicy({"Content-Type": "application/json; charset=utf-8"}),
                user_agent_policy(),
                retry_policy or WebhookRetryPolicy(),
                HttpLoggingPolicy(),  # query values (the sig) are logged as REDACTED
            ],
        )

    async def __aenter__(self) -> Self:
        await self._pipeline.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pipeline.__aexit__()

    async def send(self, url: str, body: bytes, *, setting: str) -> None:
        """POST ``body`` (the card envelope, already within the size limit)."""
        where = f"Teams webhook (app setting {setting}, {describe(url)})"
        request = HttpRequest("POST", url, content=body)
        try:
            result = await self._pipeline.run(
                request, connection_timeout=10, read_timeout=self._timeout_s, stream=False
            )
        except (ServiceRequestTimeoutError, ServiceResponseTimeoutError):
            # A post that timed out may still have arrived: a retry can repeat it.
            raise DeliveryError(
                f"{where}: timed out after {self._timeout_s:g} s (it may have arrived)", maybe_sent=True
            ) from None
        except AzureError as exc:
            raise DeliveryError(f"{where}: {redact(str(exc), url)}") from None
        response = result.http_response
        status = response.status_code
        if 200 <= status < 300:
            return
        retry_after = _retry_after(response.headers.get("Retry-After"))
        text = redact(response.text()[:300], url)
        raise DeliveryError(
            f"{where} answered HTTP {status}: {text}".rstrip(": "),
            retry_after=retry_after,
            permanent=status in (400, 413),  # the same card will never be accepted
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
