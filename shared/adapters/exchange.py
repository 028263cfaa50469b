"""Exchange Online admin API client (the InvokeCommand REST transport).

Facts it follows are in the team reference "Exchange Online admin API": POST
``/adminapi/beta/{tenant}/InvokeCommand`` with a ``CmdletInput`` body, the
``X-AnchorMailbox`` routing header, ``Prefer: odata.maxpagesize``, ``$select``,
paging by re-POSTing the same body to ``@odata.nextLink`` (or ``odata.nextLink``),
errors in ``error.details[0].message``. Built on azure-core's async pipeline: its
retry policy (honouring ``Retry-After``), bearer-token policy (token caching) and
HTTP logging policy (which redacts ``Authorization``).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote, urlsplit

from azure.core import AsyncPipelineClient
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    AsyncBearerTokenCredentialPolicy,
    AsyncRetryPolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest

from shared.core.model import MailboxSetting
from shared.core.validation import is_loopback

EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
# The well-known system mailbox that routes org-level admin work for a tenant.
ANCHOR_MAILBOX = "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}"
PAGE_SIZE = 1000
MAILBOX_PROPERTIES = (
    "Guid",
    "PrimarySmtpAddress",
    "ExternalDirectoryObjectId",
    "SmtpClientAuthenticationDisabled",
)
ORG_PROPERTIES = ("SmtpClientAuthenticationDisabled",)
USER_AGENT = "smtp-auth-guard/0.1"
CONCURRENCY_MESSAGE = "maximum number of concurrent requests"
BATCH_SIZE = 10  # the $batch limit
BATCH_ROUNDS = 3
BATCH_RETRY_DELAY_S = 1.0


class ExchangeError(HttpResponseError):
    """Exchange answered with an error; ``message`` is the service's own text."""

    def __init__(self, message: str, *, response: Any = None, cmdlet: str = "", tenant: str = ""):
        super().__init__(message=message, response=response)
        # azure-core would put the OData error.message first, which for Exchange is
        # a generic "Access denied"; keep the specific text we extracted.
        self.message = message
        self.cmdlet = cmdlet
        self.tenant = tenant

    def __str__(self) -> str:
        return self.message


class ExchangePermissionError(ExchangeError):
    """401/403: the identity lacks the app role or an Exchange role."""


class ExchangeNotFoundError(ExchangeError):
    """404: unknown tenant, or an identity that does not exist (or not yet)."""


class ExchangeThrottledError(ExchangeError):
    """Still throttled after every retry."""


class ExchangeProtocolError(ExchangeError):
    """A 2xx answer that is not the documented shape; never read as data."""


class ExchangeRetryPolicy(AsyncRetryPolicy):
    """azure-core's retry, taught the facts of this API.

    InvokeCommand is always POST: reads are safe to repeat and the Set-* calls this
    product makes are idempotent, so POST may be retried (the base class would not
    retry a bare 429 on POST). The "maximum number of concurrent requests" answer is
    throttling whatever its status. Backoff gets jitter so parallel tenants spread out.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("retry_total", 6)
        kwargs.setdefault("retry_status", 6)
        kwargs.setdefault("retry_backoff_factor", 1.0)
        kwargs.setdefault("retry_backoff_max", 60)
        super().__init__(**kwargs)
        self._method_whitelist = self._method_whitelist | {"POST"}

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse) -> bool:
        if super().is_retry(settings, response):
            return True
        http = response.http_response
        return bool(settings["total"]) and http.status_code >= 400 and _is_concurrency_error(http)

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        base = super().get_backoff_time(settings)
        return base * random.uniform(0.8, 1.2) if base else base  # noqa: S311 (jitter, not crypto)


def _is_concurrency_error(http: Any) -> bool:
    try:
        return CONCURRENCY_MESSAGE in http.text().lower()
    except (UnicodeDecodeError, ValueError, AttributeError):
        # A body that cannot be read (or was streamed) is simply not this case.
        return False


class _ClientRequestIdPolicy(SansIOHTTPPolicy):
    """A fresh ``client-request-id`` per call, as the official module sends: support
    can trace a request by it, and it goes into our error messages."""

    def on_request(self, request: PipelineRequest) -> None:
        request.http_request.headers.setdefault("client-request-id", str(uuid.uuid4()))


def error_message(status: int, body: bytes | str | None) -> str:
    """The useful text of an Exchange error answer, most specific first."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        error = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        error = None
    if isinstance(error, dict):
        details = error.get("details") or []
        candidates = [
            details[0].get("message") if details and isinstance(details[0], dict) else None,
            ((error.get("innererror") or {}).get("internalException") or {}).get("message"),
            error.get("message"),
        ]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.strip():
                return candidate.strip()
    if text.strip():
        return text.strip()[:500]
    if status == 403:
        return (
            "HTTP 403 with an empty body: the identity is missing the Exchange.ManageAsApp "
            "app role or an Exchange role (Global Reader to read, Exchange Administrator to change)"
        )
    return f"HTTP {status} with an empty body"


def _raise_for(response: Any, cmdlet: str, tenant: str) -> None:
    status = response.status_code
    message = error_message(status, response.body())
    request_id = response.request.headers.get("client-request-id", "")
    full = f"{cmdlet} for tenant {tenant} failed (HTTP {status}): {message}"
    if request_id:
        full += f" [client-request-id {request_id}]"
    if status in (401, 403):
        cls: type[ExchangeError] = ExchangePermissionError
    elif status == 404:
        cls = ExchangeNotFoundError
    elif status in (429, 503, 504) or CONCURRENCY_MESSAGE in message.lower():
        cls = ExchangeThrottledError
    else:
        cls = ExchangeError
    raise cls(full, response=response, cmdlet=cmdlet, tenant=tenant)


def _bool_or_none(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ExchangeProtocolError(
        f"{where}: SmtpClientAuthenticationDisabled is {value!r}, not true/false/null"
    )


class ExchangeClient:
    """Reads (and later sets) SMTP AUTH settings for any tenant the credential reaches."""

    def __init__(
        self,
        base_url: str,
        credential: AsyncTokenCredential,
        *,
        page_size: int = PAGE_SIZE,
        retry_policy: AsyncRetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._origin = urlsplit(self._base_url)[:2]
        # Bearer tokens over plain http only for the simulator on loopback.
        self._enforce_https = not is_loopback(urlsplit(self._base_url).hostname)
        self._page_size = page_size
        self._client = AsyncPipelineClient(
            self._base_url,
            policies=[
                HeadersPolicy({"Content-Type": "application/json", "Accept": "application/json"}),
                UserAgentPolicy(base_user_agent=USER_AGENT),
                _ClientRequestIdPolicy(),
                retry_policy or ExchangeRetryPolicy(),
                AsyncBearerTokenCredentialPolicy(credential, EXCHANGE_SCOPE),
                HttpLoggingPolicy(),
            ],
            **kwargs,
        )

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.close()

    # -- transport ---------------------------------------------------------------

    def _invoke_url(self, tenant: str, select: tuple[str, ...] | None) -> str:
        url = f"{self._base_url}/adminapi/beta/{quote(tenant, safe='')}/InvokeCommand"
        if select:
            url += "?$select=" + ",".join(select)
        return url

    async def pages(
        self,
        tenant: str,
        cmdlet: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        select: tuple[str, ...] | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page of a cmdlet's output as it arrives."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        content = json.dumps(body).encode()
        headers = {
            "X-AnchorMailbox": ANCHOR_MAILBOX.format(tenant=tenant),
            "Prefer": f"odata.maxpagesize={self._page_size}",
            "X-CmdletName": cmdlet,
        }
        url: str | None = self._invoke_url(tenant, select)
        page_number = 0
        while url:
            page_number += 1
            request = HttpRequest("POST", url, headers=headers, content=content)
            response = await self._client.send_request(
                request, enforce_https=self._enforce_https, connection_timeout=15, read_timeout=180
            )
            if response.status_code >= 300:
                _raise_for(response, cmdlet, tenant)
            payload = self._parse(response, cmdlet, tenant, page_number)
            yield payload["value"]
            url = payload.get("@odata.nextLink") or payload.get("odata.nextLink")
            if url:
                self._check_next_link(url, cmdlet, tenant)

    def _parse(self, response: Any, cmdlet: str, tenant: str, page: int) -> dict[str, Any]:
        where = f"{cmdlet} for tenant {tenant}, page {page}"
        try:
            payload = json.loads(response.body())
        except ValueError as exc:
            raise ExchangeProtocolError(f"{where}: answer is not JSON ({exc})", response=response) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
            raise ExchangeProtocolError(f"{where}: answer has no 'value' list", response=response)
        return payload

    def _check_next_link(self, url: str, cmdlet: str, tenant: str) -> None:
        # Our bearer token follows the link: never let it leave the Exchange origin.
        if urlsplit(url)[:2] != self._origin:
            raise ExchangeProtocolError(
                f"{cmdlet} for tenant {tenant}: next page link points outside {self._base_url}"
            )

    async def invoke(
        self,
        tenant: str,
        cmdlet: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        select: tuple[str, ...] | None = None,
    ) -> list[dict[str, Any]]:
        """A cmdlet's whole output (for small answers; use pages() for lists)."""
        out: list[dict[str, Any]] = []
        async for page in self.pages(tenant, cmdlet, parameters, select=select):
            out.extend(page)
        return out

    # -- SMTP AUTH reads ---------------------------------------------------------

    async def org_smtp_auth_disabled(self, tenant: str) -> bool:
        value = await self.invoke(tenant, "Get-TransportConfig", select=ORG_PROPERTIES)
        if len(value) != 1 or not isinstance(value[0], dict):
            raise ExchangeProtocolError(
                f"Get-TransportConfig for tenant {tenant}: expected one object, got {len(value)}"
            )
        setting = _bool_or_none(
            value[0].get("SmtpClientAuthenticationDisabled"), f"Get-TransportConfig for tenant {tenant}"
        )
        if setting is None:
            raise ExchangeProtocolError(
                f"Get-TransportConfig for tenant {tenant}: SmtpClientAuthenticationDisabled missing"
            )
        return setting

    async def cas_mailbox_pages(
        self,
        tenant: str,
        on_progress: Callable[[int], None] | None = None,
        *,
        keep: Callable[[str, str, bool | None], bool] | None = None,
    ) -> AsyncIterator[list[MailboxSetting]]:
        """Every CAS mailbox, page by page, reduced to its SMTP AUTH setting.

        ``keep(guid, address, setting)``, when given, picks the mailboxes a page holds.
        The others are still validated (a malformed item fails the page either way) but
        never become objects: building one per mailbox only to drop 99% of them was the
        largest cost of a 100,000-mailbox check in our code (docs/performance.md).
        ``on_progress`` gets the number of mailboxes read so far, kept or not."""
        seen = 0
        async for page in self.pages(
            tenant, "Get-CASMailbox", {"ResultSize": "Unlimited"}, select=MAILBOX_PROPERTIES
        ):
            if keep is None:
                mailboxes = [_mailbox(item, tenant) for item in page]
            else:
                mailboxes = []
                for item in page:
                    fields = item if isinstance(item, dict) else {}
                    guid = fields.get("Guid")
                    address = fields.get("PrimarySmtpAddress")
                    setting = fields.get("SmtpClientAuthenticationDisabled")
                    well_formed = (
                        isinstance(guid, str)
                        and isinstance(address, str)
                        and (setting is None or setting is True or setting is False)
                    )
                    # A malformed item goes to _mailbox too, which raises the usual error.
                    if not well_formed or keep(guid, address, setting):
                        mailboxes.append(_mailbox(item, tenant))
            seen += len(page)
            if on_progress:
                on_progress(seen)
            yield mailboxes

    async def find_mailbox(self, tenant: str, identity: str) -> MailboxSetting | None:
        """One mailbox by address or GUID, or None when Exchange does not know it."""
        try:
            value = await self.invoke(
                tenant, "Get-CASMailbox", {"Identity": identity}, select=MAILBOX_PROPERTIES
            )
        except ExchangeNotFoundError:
            return None
        if len(value) != 1:
            return None
        return _mailbox(value[0], tenant)

    # -- SMTP AUTH writes (remediation) --------------------------------------------

    async def set_org_smtp_auth_disabled(self, tenant: str, value: bool) -> None:
        await self.invoke(tenant, "Set-TransportConfig", {"SmtpClientAuthenticationDisabled": value})

    async def batch(
        self,
        tenant: str,
        calls: Sequence[tuple[str, str, Mapping[str, Any]]],
        *,
        select: tuple[str, ...] | None = None,
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
                    items = await self._batch_once(tenant, chunk, select)
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
        self, tenant: str, chunk: Sequence[tuple[str, str, Mapping[str, Any]]], select: tuple[str, ...] | None
    ) -> list[BatchItem]:
        url = self._invoke_url(tenant, select)
        anchor = ANCHOR_MAILBOX.format(tenant=tenant)
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
                        "X-AnchorMailbox": anchor,
                        "X-CmdletName": cmdlet,
                    },
                }
                for call_id, cmdlet, params in chunk
            ]
        }
        request = HttpRequest(
            "POST",
            f"{self._base_url}/adminapi/beta/{quote(tenant, safe='')}/$batch",
            headers={"X-AnchorMailbox": anchor, "Prefer": "odata.continue-on-error"},
            content=json.dumps(body).encode(),
        )
        response = await self._client.send_request(
            request, enforce_https=self._enforce_https, connection_timeout=15, read_timeout=180
        )
        if response.status_code >= 300:
            _raise_for(response, "$batch", tenant)
        try:
            answers = json.loads(response.body())["responses"]
            if not isinstance(answers, list):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise ExchangeProtocolError(
                f"$batch for tenant {tenant}: answer has no 'responses' list"
            ) from exc
        asked = {c[0] for c in chunk}
        items = {item.id: item for item in map(_batch_item, answers) if item and item.id in asked}
        return [
            items.get(i) or BatchItem(i, 0, [], "outcome unknown: no answer for it in the batch")
            for i in asked
        ]

    async def set_mailboxes(
        self, tenant: str, changes: Sequence[tuple[str, bool | None]]
    ) -> dict[str, BatchItem]:
        """Set SmtpClientAuthenticationDisabled on mailboxes by GUID; each GUID's
        answer: status 2xx done, 4xx/5xx refused (``error`` says why), 0 unknown."""
        calls = [
            (guid, "Set-CASMailbox", {"Identity": guid, "SmtpClientAuthenticationDisabled": value})
            for guid, value in changes
        ]
        return await self.batch(tenant, calls)

    async def read_mailboxes(self, tenant: str, guids: Sequence[str]) -> dict[str, MailboxSetting | str]:
        """Current settings of some mailboxes by GUID: a MailboxSetting, or the error text."""
        calls = [(guid, "Get-CASMailbox", {"Identity": guid}) for guid in guids]
        items = await self.batch(tenant, calls, select=MAILBOX_PROPERTIES)
        out: dict[str, MailboxSetting | str] = {}
        for guid in guids:
            item = items[guid]
            if item.error is not None:
                out[guid] = item.error
            elif len(item.value) != 1:
                out[guid] = f"expected one mailbox, got {len(item.value)}"
            else:
                out[guid] = _mailbox(item.value[0], tenant)
        return out


@dataclass(frozen=True)
class BatchItem:
    id: str
    status: int  # 0: no answer, outcome unknown
    value: list[Any]
    error: str | None

    @property
    def unknown(self) -> bool:
        return self.status == 0


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


def _mailbox(item: Any, tenant: str) -> MailboxSetting:
    if not isinstance(item, dict):
        raise ExchangeProtocolError(f"Get-CASMailbox for tenant {tenant}: an item is not an object")
    guid = item.get("Guid")
    address = item.get("PrimarySmtpAddress")
    if not isinstance(guid, str) or not isinstance(address, str):
        raise ExchangeProtocolError(
            f"Get-CASMailbox for tenant {tenant}: an item lacks Guid or PrimarySmtpAddress"
        )
    where = f"Get-CASMailbox for tenant {tenant}, mailbox {address}"
    external = item.get("ExternalDirectoryObjectId")
    return MailboxSetting(
        guid=guid,
        address=address,
        smtp_auth_disabled=_bool_or_none(item.get("SmtpClientAuthenticationDisabled"), where),
        external_id=external if isinstance(external, str) and external else None,
    )
