"""Usage evidence from Microsoft Graph sign-in logs: who used SMTP AUTH recently.

Read before remediation turns SMTP AUTH off anywhere (team reference, "Usage
evidence"): ``auditLogs/signIns`` filtered on ``clientAppUsed eq 'Authenticated
SMTP'``, successful sign-ins only (``status/errorCode eq 0``: a password spray
against SMTP AUTH is not usage), over the last N days. Needs ``AuditLog.Read.All``
and Entra ID P1; without P1 Graph answers 403, which is "unknown", never "nobody".
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential

from shared.core.model import Evidence, SignInEvidence

log = logging.getLogger(__name__)

SMTP_CLIENT_APP = "Authenticated SMTP"
PAGE_SIZE = 1000
MAX_PAGES = 100  # 100,000 successful SMTP sign-ins in the window is plenty to decide


def sign_in_filter(now: datetime, days: int) -> str:
    since = (now - timedelta(days=days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"clientAppUsed eq '{SMTP_CLIENT_APP}' and status/errorCode eq 0 and createdDateTime ge {since}"


def latest_per_user(sign_ins: list[SignInEvidence]) -> tuple[SignInEvidence, ...]:
    """One entry per account (its latest sign-in), newest first."""
    latest: dict[str, SignInEvidence] = {}
    for s in sign_ins:
        key = (s.user_id or s.user).lower()
        if key not in latest or s.at > latest[key].at:
            latest[key] = s
    return tuple(sorted(latest.values(), key=lambda s: s.at, reverse=True))


def _describe(exc: Exception) -> str:
    status = getattr(exc, "response_status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or str(exc) or type(exc).__name__
    if status == 403:
        return f"HTTP 403 {code}: {message} (sign-in logs need Entra ID P1 and AuditLog.Read.All)".strip()
    return f"HTTP {status} {code}: {message}".strip() if status else message


class EvidenceReader:
    """Reads one tenant's sign-in evidence with that tenant's credential (from
    TenantCredentials.for_tenant, the same one its Exchange client uses); builds the
    Graph client (and imports msgraph) only when evidence is first needed."""

    def __init__(self, tenant_id: str, credential: AsyncTokenCredential, graph_url: str) -> None:
        self.tenant_id = tenant_id
        self._credential = credential
        self._graph_url = graph_url
        self._client: Any = None

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
        import httpx
        from azure.core.exceptions import ClientAuthenticationError
        from kiota_abstractions.api_error import APIError
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder

        client = self._graph()
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
            filter=sign_in_filter(now, days),
            select=[
                "userPrincipalName",
                "userId",
                "createdDateTime",
                "ipAddress",
                "appDisplayName",
                "status",
            ],
            top=PAGE_SIZE,
        )
        found: list[SignInEvidence] = []
        try:
            page = await client.audit_logs.sign_ins.get(
                request_configuration=RequestConfiguration(query_parameters=query)
            )
            pages = 1
            while page is not None:
                for entry in page.value or []:
                    if entry.created_date_time is None:
                        continue
                    found.append(
                        SignInEvidence(
                            user=entry.user_principal_name or "",
                            user_id=entry.user_id or "",
                            at=entry.created_date_time,
                            ip_address=entry.ip_address or "",
                            app=entry.app_display_name or "",
                        )
                    )
                if not page.odata_next_link:
                    break
                if pages >= MAX_PAGES:
                    return Evidence(
                        False, days, problem=f"more than {MAX_PAGES * PAGE_SIZE:,} SMTP AUTH sign-ins"
                    )
                page = await client.audit_logs.sign_ins.with_url(page.odata_next_link).get()
                pages += 1
        except (APIError, httpx.HTTPError, ClientAuthenticationError) as exc:
            # Any failure to read is "unknown": the tenant's setting decides what follows.
            problem = _describe(exc)
            log.warning("tenant %s: sign-in evidence unavailable: %s", self.tenant_id, problem)
            return Evidence(False, days, problem=problem)
        return Evidence(True, days, latest_per_user(found))
