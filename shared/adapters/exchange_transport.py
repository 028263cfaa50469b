"""The Exchange Online admin API transport (InvokeCommand) for one tenant.

Facts it follows are in the team reference "Exchange Online admin API": POST
``/adminapi/beta/{tenant}/InvokeCommand`` with a ``CmdletInput`` body, the
``X-AnchorMailbox`` routing header, ``Prefer: odata.maxpagesize``, ``$select``,
paging by re-POSTing the same body to ``@odata.nextLink`` (or ``odata.nextLink``),
``$batch`` for many small calls. Built on azure-core's async pipeline the way its own
clients are, policies made from the client's keyword arguments: a fresh
``client-request-id`` per call, retry honouring ``Retry-After``, the bearer-token
policy (one cached token: which is why a transport serves one tenant; a token
Exchange refuses is renewed once per request, token_renewal.py), tracing, and
HTTP logging (which redacts ``Authorization``; bodies are never logged).

From the 2026-12 audit (team reference, "Corrections found in the 2026-12 audit"):
a 2xx with ``@adminapi.errors`` is never data; a Set-* answered with warnings and no
``value`` succeeded; some tenants are redirected to a tenant-specific host under the
configured one, which is followed (same method, body and token) only there and then
used for the tenant's later calls; ``$batch`` items carry the outer ``Authorization``
(as CIPP's ``New-ExoBulkRequest.ps1`` sends them), the batch asks for JSON
(``odata.metadata=minimal``) and an item's own ``@odata.nextLink`` is followed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, cast
from urllib.parse import quote, urljoin, urlsplit

from azure.core import AsyncPipelineClient
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, IncompleteReadError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
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
    ExchangePartialError,
    ExchangeProtocolError,
    ExchangeTokenError,
    adminapi_errors_text,
    error_text,
    raise_for,
    split_cmdlet_error,
)
from shared.adapters.pipeline import JitteredRetryPolicy, user_agent_policy
from shared.adapters.token_renewal import RenewingBearerTokenPolicy, refuses_token, was_renewed
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
BATCH_PAGES = 200  # an item's next links followed at most (200,000 objects at 1,000 a page)
# What production tools ask for (CIPP-API New-ExoBulkRequest.ps1): without it, $batch
# may answer multipart/mixed.
ACCEPT = "application/json; odata.metadata=minimal"
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3
DEFAULT_PORTS = {"https": 443, "http": 80}

log = logging.getLogger(__name__)


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


class BatchAuthorizationPolicy(SansIOHTTPPolicy[HttpRequest, AsyncHttpResponse]):
    """Copies the request's ``Authorization`` into every item of a ``$batch`` body, as
    CIPP's bulk requests do (whether Exchange needs it per item is unknown). It runs
    after the bearer-token policy, on every try, so a refreshed token reaches the items
    too. Bodies are never logged (no NetworkTraceLoggingPolicy in this pipeline), so
    the token is no more exposed than in the header."""

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        http = request.http_request
        auth = http.headers.get("Authorization")
        if http.method != "POST" or not auth or not urlsplit(http.url).path.endswith("/$batch"):
            return
        body = json.loads(http.content)
        for item in body.get("requests", []):
            item.setdefault("headers", {})["Authorization"] = auth
        content = json.dumps(body).encode()
        http._set_body(content=content)  # azure-core has no public setter
        http.headers["Content-Length"] = str(len(content))


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
        or HeadersPolicy({"Content-Type": "application/json", "Accept": ACCEPT}, **kwargs),
        kwargs.get("user_agent_policy") or user_agent_policy(**kwargs),
        RequestIdPolicy(**{"request_id_header_name": REQUEST_ID_HEADER, **kwargs}),
        kwargs.get("retry_policy") or ExchangeRetryPolicy(**kwargs),
        kwargs.get("authentication_policy")
        or RenewingBearerTokenPolicy(credential, EXCHANGE_SCOPE, **kwargs),
        BatchAuthorizationPolicy(),
        DistributedTracingPolicy(**kwargs),
        logging_policy,
    ]


@dataclass(frozen=True)
class BatchItem:
    id: str
    status: int  # 0: no answer, outcome unknown
    value: list[Any]
    error: str | None
    warnings: tuple[str, ...] = ()  # @adminapi.warnings of a success
    exception_type: str = ""  # of a cmdlet error, when the answer named one

    @property
    def unknown(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class CmdletResult:
    """A cmdlet's whole output and the warnings Exchange gave with it."""

    value: list[Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Page:
    value: list[Any]
    warnings: tuple[str, ...]
    next_link: str | None


@dataclass
class _Call:
    """One $batch item on its way: where to send it next, and what its pages gave."""

    id: str
    cmdlet: str
    params: Mapping[str, Any]
    url: str
    pages: int = 0
    value: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in: ``:443`` is no port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def _is_set(cmdlet: str) -> bool:
    return cmdlet.lower().startswith("set-")


def _warnings(payload: Mapping[str, Any]) -> tuple[str, ...]:
    found = payload.get("@adminapi.warnings")
    items = found if isinstance(found, list) else ([found] if found else [])
    return tuple(str(w) for w in items if str(w).strip())


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
        self._home = _origin(self._base_url)
        # Where this tenant's calls go: the configured host until Exchange redirects
        # the tenant to its own host under it, then that one (remembered by this client).
        self._endpoint = self._base_url
        self.tenant_id = tenant_id
        self._tenant_path = f"/adminapi/beta/{quote(tenant_id, safe='')}"
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

    @property
    def endpoint(self) -> str:
        """The base URL this tenant's calls go to (its own host once redirected)."""
        return self._endpoint

    @property
    def _tenant_url(self) -> str:
        return f"{self._endpoint}{self._tenant_path}"

    def invoke_url(self, select: tuple[str, ...] | None = None) -> str:
        url = f"{self._tenant_url}/InvokeCommand"
        if select:
            url += "?$select=" + ",".join(select)
        return url

    def allowed(self, url: str) -> bool:
        """Whether our bearer token may go to ``url``: the configured Exchange host or a
        host under it (a tenant-specific host), same scheme, same port once default
        ports are normalised. Nothing else, ever."""
        scheme, host, port = _origin(url)
        home_scheme, home_host, home_port = self._home
        under = host == home_host or (bool(home_host) and host.endswith("." + home_host))
        return scheme == home_scheme and port == home_port and under

    async def _send(self, request: HttpRequest, what: str, **kwargs: Any) -> AsyncHttpResponse:
        """Send, following Exchange's redirects to a tenant-specific host (same method,
        body and bearer token) only where ``allowed``; a redirect anywhere else is
        refused before anything is sent there."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                # The pipeline's response, for its context: whether the token was renewed.
                # azure-core's own pollers ask for it this way.
                answered = await self._client.send_request(
                    request, enforce_https=self._enforce_https, _return_pipeline_response=True, **kwargs
                )
            except ClientAuthenticationError as exc:
                # send_request never raises for an HTTP status: this came from the
                # credential, before anything reached Exchange (or when asked for a new
                # token after Exchange refused the one it had).
                raise ExchangeTokenError(self.tenant_id, exc) from exc
            pipeline_response = cast(PipelineResponse[HttpRequest, AsyncHttpResponse], answered)
            response = pipeline_response.http_response
            if was_renewed(pipeline_response) and refuses_token(response):
                raise_for(response, what, self.tenant_id, token_renewed=True)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECTS or not location:
                return response
            target = urljoin(request.url, location)
            if not self.allowed(target):
                raise ExchangeProtocolError(
                    f"{what} for tenant {self.tenant_id}: Exchange redirected to "
                    f"{urlsplit(target).hostname or 'an unnamed host'}, which is not {self._base_url} "
                    "or a host under it; refused, nothing was sent there",
                    response=response,
                )
            self._remember(target)
            request = HttpRequest(
                request.method, target, headers=dict(request.headers), content=request.content
            )
        raise ExchangeProtocolError(
            f"{what} for tenant {self.tenant_id}: more than {MAX_REDIRECTS} redirects", response=response
        )

    def _remember(self, target: str) -> None:
        parts = urlsplit(target)
        scheme, host, port = _origin(target)
        endpoint = f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS.get(scheme) else f":{port}")
        if parts.path.startswith(self._tenant_path) or parts.path.lower().startswith(
            self._tenant_path.lower()
        ):
            if endpoint != self._endpoint:
                log.info(
                    "tenant %s: Exchange moved it to %s; its calls go there now", self.tenant_id, endpoint
                )
            self._endpoint = endpoint

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
        async for page in self._pages(cmdlet, parameters, select=select, **kwargs):
            yield page.value

    async def _pages(
        self,
        cmdlet: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        select: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[_Page]:
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        content = json.dumps(body).encode()
        headers = {
            "X-AnchorMailbox": self._anchor,
            "Prefer": f"odata.maxpagesize={self._page_size}",
            "X-CmdletName": cmdlet,
        }
        url: str | None = self.invoke_url(select)
        page_number = 0
        fetched: set[str] = set()
        while url:
            if url in fetched:
                # A link to a page already read: following it would loop, and stopping
                # would leave the read incomplete. Either way it is not the whole list.
                raise ExchangeProtocolError(
                    f"{cmdlet} for tenant {self.tenant_id}, page {page_number + 1}: the next page "
                    "link repeats one already followed (a paging loop); the read is incomplete"
                )
            fetched.add(url)
            page_number += 1
            request = HttpRequest("POST", url, headers=headers, content=content)
            try:
                response = await self._send(request, cmdlet, **kwargs)
            except IncompleteReadError as exc:  # every retry's answer was cut off too
                raise ExchangeProtocolError(
                    f"{cmdlet} for tenant {self.tenant_id}, page {page_number}: the answer was cut off "
                    f"(the connection dropped before all of it arrived: {exc.message})"
                ) from exc
            if response.status_code >= 300:
                raise_for(response, cmdlet, self.tenant_id)
            page = self._parse(response, cmdlet, page_number)
            for warning in page.warnings:
                # repr: the text may quote tenant data; no control or bidi characters in logs.
                log.warning("%s for tenant %s: Exchange warned: %r", cmdlet, self.tenant_id, warning)
            yield page
            url = page.next_link
            if url:
                self._check_next_link(url, cmdlet)

    def _parse(self, response: Any, cmdlet: str, page: int) -> _Page:
        where = f"{cmdlet} for tenant {self.tenant_id}, page {page}"
        try:
            payload = json.loads(response.body())
        except ValueError as exc:
            raise ExchangeProtocolError(f"{where}: answer is not JSON ({exc})", response=response) from exc
        if not isinstance(payload, dict):
            raise ExchangeProtocolError(f"{where}: answer is not a JSON object", response=response)
        errors = payload.get("@adminapi.errors")
        if errors:
            # Non-terminating errors: what came with them is partial, never data.
            first = errors[0] if isinstance(errors, list) else errors
            raise ExchangePartialError(
                f"{where}: Exchange answered with errors, so the answer is incomplete: "
                f"{adminapi_errors_text(errors)}",
                response=response,
                cmdlet=cmdlet,
                tenant=self.tenant_id,
                exception_type=split_cmdlet_error(str(first)).exception_type,
            )
        warnings = _warnings(payload)
        value = payload.get("value")
        if value is None and warnings and _is_set(cmdlet):
            value = []  # a Set-* answered with warnings alone succeeded (CIPP New-ExoRequest.ps1)
        if not isinstance(value, list):
            raise ExchangeProtocolError(f"{where}: answer has no 'value' list", response=response)
        link = payload.get("@odata.nextLink") or payload.get("odata.nextLink")
        return _Page(value, warnings, link if isinstance(link, str) and link else None)

    def _check_next_link(self, url: str, cmdlet: str) -> None:
        # Our bearer token follows the link: never let it leave Exchange.
        if not self.allowed(url):
            raise ExchangeProtocolError(
                f"{cmdlet} for tenant {self.tenant_id}: next page link points outside "
                f"{self._base_url} and the hosts under it; not followed"
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
        return (await self.run(cmdlet, parameters, select=select, **kwargs)).value

    async def run(
        self,
        cmdlet: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        select: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> CmdletResult:
        """A cmdlet's whole output and Exchange's warnings (a Set-* call's audit keeps them)."""
        value: list[Any] = []
        warnings: list[str] = []
        async for page in self._pages(cmdlet, parameters, select=select, **kwargs):
            value.extend(page.value)
            warnings.extend(page.warnings)
        return CmdletResult(value, tuple(warnings))

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
        by the pipeline); an item whose answer carries its own ``@odata.nextLink`` is
        sent again with that URL until its output is whole. A batch request that fails
        outright answers its items with status 0: their outcome is unknown (a write
        may or may not have happened), and the other batches' answers are kept."""
        results: dict[str, BatchItem] = {}
        pending = [_Call(i, cmdlet, params, self.invoke_url(select)) for i, cmdlet, params in calls]
        rounds = 0
        while pending:
            again: list[_Call] = []
            throttled = False
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start : start + BATCH_SIZE]
                try:
                    answers = await self._batch_once(chunk, **kwargs)
                except AzureError as exc:
                    answers = {c.id: (BatchItem(c.id, 0, [], f"outcome unknown: {exc}"), None) for c in chunk}
                for call in chunk:
                    item, link = answers[call.id]
                    if item.status in (429, 503, 504) and rounds + 1 < BATCH_ROUNDS:
                        again.append(call)
                        throttled = True
                        continue
                    call.value.extend(item.value)
                    call.warnings.extend(item.warnings)
                    if item.error is None and link:
                        problem = self._next_item_link(call, link)
                        if problem is None:
                            again.append(call)
                            continue
                        item = BatchItem(call.id, 500, [], problem)
                    results[call.id] = (
                        item
                        if item.error is not None
                        else BatchItem(call.id, item.status, call.value, None, tuple(call.warnings))
                    )
            if throttled:
                rounds += 1
                await asyncio.sleep(BATCH_RETRY_DELAY_S * 2 ** (rounds - 1))
            pending = again
        return results

    def _next_item_link(self, call: _Call, link: str) -> str | None:
        """Move the item on to its next page; the reason not to, if any."""
        call.pages += 1
        if not self.allowed(link):
            return (
                f"{call.cmdlet} for tenant {self.tenant_id}: next page link points outside "
                f"{self._base_url} and the hosts under it; not followed"
            )
        if call.pages > BATCH_PAGES:
            return (
                f"{call.cmdlet} for tenant {self.tenant_id}: more than {BATCH_PAGES} pages in one batch item"
            )
        call.url = link
        return None

    async def _batch_once(
        self, chunk: Sequence[_Call], **kwargs: Any
    ) -> dict[str, tuple[BatchItem, str | None]]:
        body = {
            "requests": [
                {
                    "id": call.id,
                    "method": "POST",
                    "url": call.url,
                    "body": {"CmdletInput": {"CmdletName": call.cmdlet, "Parameters": dict(call.params)}},
                    # Each item is routed on its own, as the official module's batches do;
                    # BatchAuthorizationPolicy adds the bearer token, per try.
                    "headers": {
                        "Content-Type": "application/json",
                        "X-AnchorMailbox": self._anchor,
                        "X-CmdletName": call.cmdlet,
                        "Prefer": f"odata.maxpagesize={self._page_size}",
                    },
                }
                for call in chunk
            ]
        }
        request = HttpRequest(
            "POST",
            f"{self._tenant_url}/$batch",
            headers={"X-AnchorMailbox": self._anchor, "Prefer": "odata.continue-on-error"},
            content=json.dumps(body).encode(),
        )
        response = await self._send(request, "$batch", **kwargs)
        if response.status_code >= 300:
            raise_for(response, "$batch", self.tenant_id)
        try:
            answers = json.loads(response.content)["responses"]
            if not isinstance(answers, list):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            kind = response.headers.get("Content-Type", "").split(";")[0] or "no content type"
            raise ExchangeProtocolError(
                f"$batch for tenant {self.tenant_id}: answer has no 'responses' list ({kind})"
            ) from exc
        asked = {c.id for c in chunk}
        items: dict[str, tuple[BatchItem, str | None]] = {}
        for answer in answers:
            parsed = _batch_item(answer)
            if parsed is not None and parsed[0].id in asked:
                items[parsed[0].id] = parsed
        for call_id in asked - items.keys():
            items[call_id] = (
                BatchItem(call_id, 0, [], "outcome unknown: no answer for it in the batch"),
                None,
            )
        return items


def _batch_item(answer: Any) -> tuple[BatchItem, str | None] | None:
    """An item's answer, and its next page link."""
    if not isinstance(answer, dict) or "id" not in answer:
        return None
    item_id = str(answer["id"])
    try:
        status = int(answer.get("status", 0))
    except (TypeError, ValueError):
        status = 0
    body = answer.get("body")
    payload = body if isinstance(body, dict) else {}
    # An error body counts as a failure whatever the item's status says.
    if status >= 300 or "error" in payload:
        raw = json.dumps(body) if isinstance(body, dict | list) else str(body or "")
        said = error_text(status, raw)
        failed = status if status >= 300 else 500
        return BatchItem(
            item_id, 404 if said.not_found else failed, [], said.text, exception_type=said.exception_type
        ), None
    errors = payload.get("@adminapi.errors")
    if errors:
        # Non-terminating errors in a 200: the item did not (wholly) work; a write is
        # settled by reading it back.
        text = f"Exchange answered with errors: {adminapi_errors_text(errors)}"
        return BatchItem(item_id, 500, [], text), None
    warnings = _warnings(payload)
    value = payload.get("value")
    link = payload.get("@odata.nextLink") or payload.get("odata.nextLink")
    item = BatchItem(item_id, status, value if isinstance(value, list) else [], None, warnings)
    return item, link if isinstance(link, str) and link else None
