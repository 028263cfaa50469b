"""Usage evidence from Microsoft Graph sign-in logs: who used SMTP AUTH recently.

Read before remediation turns SMTP AUTH off anywhere (team reference, "Usage
evidence" and "Corrections found in the 2026-12 audit"): ``auditLogs/signIns``
filtered on either client app SMTP AUTH is logged as, ``Authenticated SMTP`` or
``SMTP`` (CIPP changed its SMTP AUTH alert to both after sign-ins it missed:
KelvinTegelaar/CIPP#5291), successful sign-ins only (``status/errorCode eq 0``: a
password spray against SMTP AUTH is not usage), over the last N days. Needs
``AuditLog.Read.All`` and ``Directory.Read.All`` and Entra ID P1; without P1 Graph
answers 403, which is "unknown", never "nobody".

Graph throttles these reads to 5 requests per 10 s per app and tenant
(``concepts/throttling-limits.md``). kiota's retry handler, which msgraph-sdk puts in
every client, already waits the ``Retry-After`` of a 429 (uncapped, but never a wait
of 180 s or more) up to ``max_retries`` times per request; each request here asks
for its maximum, and the whole read gets a time budget. A read that is cut short,
by the budget or a failed page, is "unknown" too: a partial list is never evidence.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.credentials_async import AsyncTokenCredential

from shared.core.basic_auth import BASIC_SMTP_CLIENT_APPS
from shared.core.model import Evidence, SignInEvidence
from shared.core.smtp_usage import summarise

if TYPE_CHECKING:  # kiota is imported when evidence is first read, not with this module
    from kiota_abstractions.request_option import RequestOption

log = logging.getLogger(__name__)

# Both values SMTP AUTH sign-ins are logged with (Graph's signIn resource lists SMTP
# among the legacy clients; CIPP-API Get-CIPPAlertSmtpAuthSuccess.ps1 asks for both).
SMTP_CLIENT_APPS = BASIC_SMTP_CLIENT_APPS
PAGE_SIZE = 1000
SELECT = (
    "userPrincipalName",
    "userId",
    "createdDateTime",
    "ipAddress",
    "appDisplayName",
    "clientAppUsed",
    "status",
)
MAX_PAGES = 100  # 100,000 successful SMTP sign-ins in the window is plenty to decide
# At Graph's 5 requests per 10 s, 60 s reads about 30 pages even when throttled; a
# tenant's evidence must not hold up the run (other tenants wait for its slot, and
# the function has a timeout) for longer than that.
READ_BUDGET_S = 60.0


def sign_in_filter(now: datetime, days: int) -> str:
    since = (now - timedelta(days=days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Parenthesised: in OData "and" binds tighter than "or".
    apps = " or ".join(f"clientAppUsed eq '{app}'" for app in SMTP_CLIENT_APPS)
    return f"({apps}) and status/errorCode eq 0 and createdDateTime ge {since}"


def latest_per_user(sign_ins: list[SignInEvidence]) -> tuple[SignInEvidence, ...]:
    """One entry per account (its latest sign-in), newest first."""
    latest: dict[str, SignInEvidence] = {}
    for s in sign_ins:
        key = (s.user_id or s.user).lower()
        if key not in latest or s.at > latest[key].at:
            latest[key] = s
    return tuple(sorted(latest.values(), key=lambda s: s.at, reverse=True))


class SignInPageError(ValueError):
    """A 2xx answer that is not a page of sign-ins: never read as "no sign-ins"."""


def read_page(raw: bytes | None) -> tuple[list[SignInEvidence], str | None]:
    """The sign-ins of one page of ``auditLogs/signIns`` and its next link."""
    try:
        body = json.loads(raw or b"")
    except ValueError as exc:
        raise SignInPageError(f"Graph sent a sign-in page that is not JSON: {exc}") from None
    entries = body.get("value") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise SignInPageError("Graph sent a sign-in page without a 'value' list")
    found = []
    for entry in entries:
        at = entry.get("createdDateTime") if isinstance(entry, dict) else None
        if not isinstance(at, str):
            continue
        found.append(
            SignInEvidence(
                user=entry.get("userPrincipalName") or "",
                user_id=entry.get("userId") or "",
                at=_time(at),
                ip_address=entry.get("ipAddress") or "",
                app=entry.get("appDisplayName") or "",
                client_app=entry.get("clientAppUsed") or "",
            )
        )
    link = body.get("@odata.nextLink")
    return found, link if isinstance(link, str) and link else None


def _time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise SignInPageError(f"Graph sent a sign-in time that is not one: {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # Graph's times are UTC


def _refusal(exc: Exception) -> tuple[int | None, str]:
    """Graph's HTTP status and error code, when it answered with an error."""
    status = getattr(exc, "response_status_code", None)
    code = getattr(getattr(exc, "error", None), "code", None)
    return (status if isinstance(status, int) else None), (code if isinstance(code, str) else "")


def _describe(exc: Exception) -> str:
    status, code = _refusal(exc)
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or str(exc) or type(exc).__name__
    if status == 403:
        return (
            f"HTTP 403 {code}: {message} (sign-in logs need Entra ID P1, "
            "AuditLog.Read.All and Directory.Read.All)"
        )
    return f"HTTP {status} {code}: {message}".strip() if status else message


class EvidenceReader:
    """Reads one tenant's sign-in evidence with that tenant's credential (from
    TenantCredentials.for_tenant, the same one its Exchange client uses); builds the
    Graph client (and imports msgraph) only when evidence is first needed."""

    def __init__(
        self,
        tenant_id: str,
        credential: AsyncTokenCredential,
        graph_url: str,
        *,
        budget_s: float = READ_BUDGET_S,
    ) -> None:
        self.tenant_id = tenant_id
        self._credential = credential
        self._graph_url = graph_url
        self._budget_s = budget_s
        self._client: Any = None
        # The last answer, for another read with the same now and window: a check and
        # its remediation ask once between them (Graph allows 5 reads per 10 s).
        self._last: tuple[datetime, int, Evidence] | None = None

    async def close(self) -> None:
        if self._client is not None:
            from shared.adapters.graph import close_graph_client

            await close_graph_client(self._client)
            self._client = None

    def _graph(self) -> Any:
        if self._client is None:
            from shared.adapters.graph import graph_client

            self._client = graph_client(self._credential, self._graph_url)
        return self._client

    async def read(self, now: datetime, days: int) -> Evidence:
        """The tenant's recent SMTP AUTH users; any failure to read is "unknown"."""
        if self._last is not None and self._last[:2] == (now, days):
            return self._last[2]
        evidence = await self._timed_read(now, days)
        self._last = (now, days, evidence)
        return evidence

    async def _timed_read(self, now: datetime, days: int) -> Evidence:
        try:
            async with asyncio.timeout(self._budget_s):
                return await self._read(now, days)
        except TimeoutError:
            problem = (
                f"sign-in logs not read within {self._budget_s:g} s (Graph throttles them "
                "to 5 requests per 10 s per app and tenant)"
            )
            log.warning("tenant %s: sign-in evidence unavailable: %s", self.tenant_id, problem)
            return Evidence(False, days, problem=problem)

    async def _read(self, now: datetime, days: int) -> Evidence:
        import httpx
        from azure.core.exceptions import ClientAuthenticationError
        from kiota_abstractions.api_error import APIError
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        # As many 429 retries per request as kiota allows; the budget bounds the time.
        retry: list[RequestOption] = [RetryHandlerOption(max_retries=RetryHandlerOption.MAX_MAX_RETRIES)]
        client = self._graph()
        builder = client.audit_logs.sign_ins
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
            filter=sign_in_filter(now, days), select=list(SELECT), top=PAGE_SIZE
        )
        request = builder.to_get_request_information(
            RequestConfiguration(query_parameters=query, options=retry)
        )
        found: list[SignInEvidence] = []
        try:
            for pages in range(1, MAX_PAGES + 1):
                # The raw page, not msgraph's SignIn models: building those costs about
                # 15 ms of CPU per entry (45 s for 3,000), with the event loop blocked.
                raw = await client.request_adapter.send_primitive_async(request, "bytes", {"XXX": ODataError})
                entries, next_link = read_page(raw)
                found.extend(entries)
                if not next_link:
                    # The usage report's summary comes from the same read as the guard's list.
                    return Evidence(True, days, latest_per_user(found), users=summarise(found))
                if pages < MAX_PAGES:
                    request = builder.with_url(next_link).to_get_request_information(
                        RequestConfiguration(options=retry)
                    )
        except (APIError, httpx.HTTPError, ClientAuthenticationError, SignInPageError) as exc:
            # Any failure to read is "unknown": the tenant's setting decides what follows.
            problem = _describe(exc)
            log.warning("tenant %s: sign-in evidence unavailable: %s", self.tenant_id, problem)
            status, code = _refusal(exc)
            return Evidence(False, days, problem=problem, status=status, code=code)
        return Evidence(False, days, problem=f"more than {MAX_PAGES * PAGE_SIZE:,} SMTP AUTH sign-ins")
