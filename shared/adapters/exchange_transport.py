"""The Exchange Online admin API transport (InvokeCommand) for one tenant.

Facts it follows are in the team reference "Exchange Online admin API": POST
``/adminapi/beta/{tenant}/InvokeCommand`` with a ``CmdletInput`` body, the
``X-AnchorMailbox`` routing header, ``Prefer: odata.maxpagesize``, ``$select``,
paging by re-POSTing the same body to ``@odata.nextLink`` (or ``odata.nextLink``),
``$batch`` for many small calls. Built on azure-core's async pipeline the way its own
clients are, policies made from the client's keyword arguments: a fresh
``client-request-id`` per call, retry honouring ``Retry-After``, the bearer-token
policy (one cached token: which is why a transport serves one tenant), tracing, and
HTTP logging (which redacts ``Authorization``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote, urlsplit

from azure.core import AsyncPipelineClient
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import (
    AsyncBearerTokenCredentialPolicy,
    AsyncHTTPPolicy,
    DistributedTracingPolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    RequestIdPolicy,
    SansIOHTTPPolicy,
)
from azure.core.rest import AsyncHttpResponse, HttpRequest

from shared.adapters.exchange_errors import (
    CONCURRENCY_MESSAGE,
    ExchangeProtocolError,
    ExchangeTokenError,
    error_message,
    raise_for,
)
from shared.adapters.pipeline import JitteredRetryPolicy, user_agent_policy
from shared.core.validation import is_loopback

EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
# The well-known system mailbox that routes org-level admin work for a tenant.
ANCHOR_MAILBOX = "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}"
REQUEST_ID_HEADER = "client-request-id"  # what the official module sends
PAGE_SIZE = 1000
CONNECTION_TIMEOUT_S = 15
READ_TIMEOUT_S = 180  # a page of 1,000 mailboxes from a busy tenant can be slow
BATCH_SIZE = 10  # the $batch limit
BATCH_ROUNDS = 3
BATCH_RETRY_DELAY_S = 1.0


class ExchangeRetryPolicy(JitteredRetryPolicy):
    """azure-core's retry, taught the facts of this API.

    InvokeCommand is always POST: reads are safe to repeat and the Set-* calls this
    product makes are idempotent, so POST may be retried (the base class would not
    retry a bare 429 on POST). The "maximum number of concurrent requests" answer is
    throttling whatever its status.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("retry_total", 6)
        kwargs.setdefault("retry_status", 6)
        kwargs.setdefault("retry_backoff_factor", 1.0)
        kwargs.setdefault("retry_backoff_max", 60)
        super().__init__(**kwargs)
        self._method_whitelist = self._method_whitelist | {"POST"}

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if super().is_retry(settings, response):
            return True
        http = response.http_response
        return bool(settings["total"]) and http.status_code >= 400 and _is_concurrency_error(http)


def _is_concurrency_error(http: Any) -> bool:
    try:
        return CONCURRENCY_MESSAGE in http.text().lower()
    except (UnicodeDecodeError, ValueError, AttributeError):
        # A body that cannot be read (or was streamed) is simply not this case.
        return False


def exchange_policies(
    credential: AsyncTokenCredential, **kwargs: Any
) -> list[AsyncHTTPPolicy[Any, Any] | SansIOHTTPPolicy[Any, Any]]:
    """The pipeline, in azure-core's order: per call (headers, user agent, request id),
    then retry, then per try (token, tracing, logging). Each policy reads the client's
    keywords (``retry_total=``, ``logging_enable=``, ...) or is replaced whole
    (``retry_policy=``, ...), as in azure-core's generated clients. No redirect policy:
    the bearer token never follows a redirect anywhere."""
    logging_policy = kwargs.get("http_logging_policy")
    if logging_policy is None:
        logging_policy = HttpLoggingPolicy(**kwargs)
        logging_policy.allowed_header_names.add(REQUEST_ID_HEADER)  # support traces a call by it
    return [
        kwargs.get("headers_policy")
        or HeadersPolicy({"Content-Type": "application/json", "Accept": "application/json"}, **kwargs),
        kwargs.get("user_agent_policy") or user_agent_policy(**kwargs),
        RequestIdPolicy(**{"request_id_header_name": REQUEST_ID_HEADER, **kwargs}),
        kwargs.get("retry_policy") or ExchangeRetryPolicy(**kwargs),
        kwargs.get("authentication_policy")
        or AsyncBearerTokenCredentialPolicy(credential, EXCHANGE_SCOPE, **kwargs),
        DistributedTracingPolicy(**kwargs),
        logging_policy,
    ]


@dataclass(frozen=True)
class BatchItem:
    id: str
    status: int  # 0: no answer, outcome unknown
    value: list[Any]
    error: str | None

    @property
    def unknown(self) -> bool:
        return self.status == 0


class ExchangeTransport:
    """InvokeCommand and ``$batch`` for one tenant: its URLs, its anchor, its token.

    ``**kwargs`` configure the pipeline and its HTTP transport as for any azure-core
    client; ``connection_timeout`` / ``read_timeout`` given here are the defaults that
    a call's own keywords override.
    """

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        credential: AsyncTokenCredential,
        *,
        page_size: int = PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._origin = urlsplit(self._base_url)[:2]
        self.tenant_id = tenant_id
        self._tenant_url = f"{self._base_url}/adminapi/beta/{quote(tenant_id, safe='')}"
        self._anchor = ANCHOR_MAILBOX.format(tenant=tenant_id)
        # Bearer tokens over plain http only for the simulator on loopback.
        self._enforce_https = not is_loopback(urlsplit(self._base_url).hostname)
        self._page_size = page_size
        kwargs.setdefault("connection_timeout", CONNECTION_TIMEOUT_S)
        kwargs.setdefault("read_timeout", READ_TIMEOUT_S)
        self._client: AsyncPipelineClient[HttpRequest, AsyncHttpResponse] = AsyncPipelineClient(
            self._base_url, policies=exchange_policies(credential, **kwargs), **kwargs
        )

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.close()

    def invoke_url(self, select: tuple[str, ...] | None = None) -> str:
        url = f"{self._tenant_url}/InvokeCommand"
        if select:
            url += "?$select=" + ",".join(select)
        return url

    async def _send(self, request: HttpRequest, **kwargs: Any) -> AsyncHttpResponse:
        try:
            return await self._client.send_request(request, enforce_https=self._enforce_https, **kwargs)
        except ClientAuthenticationError as exc:
            # send_request never raises for an HTTP status: this came from the
            # credential, before anything reached Exchange.
            raise ExchangeTokenError(self.tenant_id, exc) from exc

    async def pages(
        self,
        cmdlet: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        select: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page of a cmdlet's output as it arrives. ``**kwargs`` go to the
        pipeline with each request (``read_timeout=``, ``retry_total=``, ...)."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        content = json.dumps(body).encode()
        headers = {
            "X-AnchorMailbox": self._anchor,
            "Prefer": f"odata.maxpagesize={self._page_size}",
            "X-CmdletName": cmdlet,
        }
        url: str | None = self.invoke_url(select)
        page_number = 0
        while url:
            page_number += 1
            request = HttpRequest("POST", url, headers=headers, content=content)
            response = await self._send(request, **kwargs)
            if response.status_code >= 300:
                raise_for(response, cmdlet, self.tenant_id)
            payload = self._parse(response, cmdlet, page_number)
            yield payload["value"]
            url = payload.get("@odata.nextLink") or payload.get("odata.nextLink")
            if url:
                self._check_next_link(url, cmdlet)

    def _parse(self, response: Any, cmdlet: str, page: int) -> dict[str, Any]:
        where = f"{cmdlet} for tenant {self.tenant_id}, page {page}"
        try:
            payload = json.loads(response.body())
        except ValueError as exc:
            raise ExchangeProtocolError(f"{where}: answer is not JSON ({exc})", response=response) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
            raise ExchangeProtocolError(f"{where}: answer has no 'value' list", response=response)
        return payload

    def _check_next_link(self, url: str, cmdlet: str) -> None:
        # Our bearer token follows the link: never let it leave the Exchange origin.
        if urlsplit(url)[:2] != self._origin:
            raise ExchangeProtocolError(
                f"{cmdlet} for tenant {self.tenant_id}: next page link points outside {self._base_url}"
            )

    async def invoke(
        self,
        cmdlet: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        select: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """A cmdlet's whole output (for small answers; use pages() for lists)."""
        out: list[dict[str, Any]] = []
        async for page in self.pages(cmdlet, parameters, select=select, **kwargs):
            out.extend(page)
        return out

    async def batch(
        self,
        calls: Sequence[tuple[str, str, Mapping[str, Any]]],
        *,
        select: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> dict[str, BatchItem]:
        """Run (id, cmdlet, parameters) calls through ``$batch``, 10 per request,
        and answer each id with its own status and body. Items throttled inside a
        batch are sent again in a later round (the batch request itself is retried
        by the pipeline). A batch request that fails outright answers its items with
        status 0: their outcome is unknown (a write may or may not have happened),
        and the other batches' answers are kept."""
        results: dict[str, BatchItem] = {}
        pending = list(calls)
        for attempt in range(BATCH_ROUNDS):
            retry: list[tuple[str, str, Mapping[str, Any]]] = []
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start : start + BATCH_SIZE]
                try:
                    items = await self._batch_once(chunk, select, **kwargs)
                except AzureError as exc:
                    items = [BatchItem(c[0], 0, [], f"outcome unknown: {exc}") for c in chunk]
                for item in items:
                    if item.status in (429, 503, 504) and attempt + 1 < BATCH_ROUNDS:
                        retry.append(next(c for c in chunk if c[0] == item.id))
                    else:
                        results[item.id] = item
            if not retry:
                break
            await asyncio.sleep(BATCH_RETRY_DELAY_S * 2**attempt)
            pending = retry
        return results

    async def _batch_once(
        self,
        chunk: Sequence[tuple[str, str, Mapping[str, Any]]],
        select: tuple[str, ...] | None,
        **kwargs: Any,
    ) -> list[BatchItem]:
        url = self.invoke_url(select)
        body = {
            "requests": [
                {
                    "id": call_id,
                    "method": "POST",
                    "url": url,
                    "body": {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(params)}},
                    # Each item is routed on its own, as the official module's batches do.
                    "headers": {
                        "Content-Type": "application/json",
                        "X-AnchorMailbox": self._anchor,
                        "X-CmdletName": cmdlet,
                    },
                }
                for call_id, cmdlet, params in chunk
            ]
        }
        request = HttpRequest(
            "POST",
            f"{self._tenant_url}/$batch",
            headers={"X-AnchorMailbox": self._anchor, "Prefer": "odata.continue-on-error"},
            content=json.dumps(body).encode(),
        )
        response = await self._send(request, **kwargs)
        if response.status_code >= 300:
            raise_for(response, "$batch", self.tenant_id)
        try:
            answers = json.loads(response.content)["responses"]
            if not isinstance(answers, list):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise ExchangeProtocolError(
                f"$batch for tenant {self.tenant_id}: answer has no 'responses' list"
            ) from exc
        asked = {c[0] for c in chunk}
        items = {item.id: item for item in map(_batch_item, answers) if item and item.id in asked}
        return [
            items.get(i) or BatchItem(i, 0, [], "outcome unknown: no answer for it in the batch")
            for i in asked
        ]


def _batch_item(answer: Any) -> BatchItem | None:
    if not isinstance(answer, dict) or "id" not in answer:
        return None
    try:
        status = int(answer.get("status", 0))
    except (TypeError, ValueError):
        status = 0
    body = answer.get("body")
    payload = body if isinstance(body, dict) else {}
    # An error body counts as a failure whatever the item's status says.
    if status >= 300 or "error" in payload:
        raw = json.dumps(body) if isinstance(body, dict | list) else str(body or "")
        return BatchItem(str(answer["id"]), status if status >= 300 else 500, [], error_message(status, raw))
    value = payload.get("value")
    return BatchItem(str(answer["id"]), status, value if isinstance(value, list) else [], None)
