"""Sender: email through Microsoft Graph ``users/{sender}/sendMail`` (msgraph-sdk,
application permission Mail.Send, the managed identity's aio credential).

msgraph costs about 0.2 s and 30 MB to import, so nothing here imports it until the
first mail is sent; the timer function's cold start never pays for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential

from shared.core.delivery import DeliveryError
from shared.core.mail_errors import fix_for, never_succeeds

TIMEOUT_S = 30.0
# msgraph's retry handler honours Retry-After without a cap and adds a 3 s base
# delay by default; one quick retry in the run, the rest is the outbox's job.
IN_RUN_RETRIES = 1


class MailSender:
    def __init__(
        self, credential: AsyncTokenCredential, graph_url: str, *, timeout_s: float = TIMEOUT_S
    ) -> None:
        self._credential = credential
        self._graph_url = graph_url
        self._timeout_s = timeout_s
        self._client: Any = None

    def _graph(self) -> Any:
        if self._client is None:
            from shared.adapters.graph import graph_client

            self._client = graph_client(self._credential, self._graph_url)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            from shared.adapters.graph import close_graph_client

            await close_graph_client(self._client)
            self._client = None

    async def send(self, sender: str, to: Sequence[str], subject: str, html: str) -> None:
        import httpx
        from azure.core.exceptions import AzureError
        from kiota_abstractions.api_error import APIError
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph.generated.models.body_type import BodyType
        from msgraph.generated.models.email_address import EmailAddress
        from msgraph.generated.models.item_body import ItemBody
        from msgraph.generated.models.message import Message
        from msgraph.generated.models.recipient import Recipient
        from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
            SendMailPostRequestBody,
        )

        body = SendMailPostRequestBody(
            message=Message(
                subject=subject,
                body=ItemBody(content_type=BodyType.Html, content=html),
                to_recipients=[Recipient(email_address=EmailAddress(address=a)) for a in to],
            ),
            save_to_sent_items=False,
        )
        config: RequestConfiguration[None] = RequestConfiguration(  # sendMail has no query parameters
            options=[RetryHandlerOption(delay=0.0, max_retries=IN_RUN_RETRIES)]
        )
        where = f"Graph sendMail as {sender}"
        try:
            async with asyncio.timeout(self._timeout_s):
                await (
                    self._graph().users.by_user_id(sender).send_mail.post(body, request_configuration=config)
                )
        except TimeoutError:
            raise DeliveryError(
                f"{where}: no answer within {self._timeout_s:g} s (it may have been sent)", maybe_sent=True
            ) from None
        except APIError as exc:
            status = exc.response_status_code
            error = getattr(exc, "error", None)
            code = getattr(error, "code", None) or ""
            text = getattr(error, "message", None) or exc.message or ""
            headers = exc.response_headers or {}
            fix = fix_for(status, code)
            said = f"{where} answered HTTP {status} {code}: {text}".strip()
            raise DeliveryError(
                f"{said.rstrip('.')}. Fix: {fix}" if fix else said,
                retry_after=_seconds(headers.get("retry-after") or headers.get("Retry-After")),
                permanent=never_succeeds(status, code),
            ) from None
        except (httpx.HTTPError, AzureError) as exc:
            # Connection failures, and the identity failing to give a token.
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None


def _seconds(value: Any) -> float | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None
