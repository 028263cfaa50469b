"""Microsoft Graph sign-in logs: ``GET /v1.0/auditLogs/signIns`` (and ``/beta``).

docs/simulator.md (Exchange admin API facts, with their public sources), "Usage evidence" and "Corrections found
in the 2026-12 audit": SMTP AUTH sign-ins carry ``clientAppUsed`` ``Authenticated
SMTP`` *or* ``SMTP`` (each entry says which: ``sign_in(client_app=...)``); useful
fields are userPrincipalName, userId, createdDateTime, ipAddress, status/errorCode,
appDisplayName. Without an Entra ID P1 licence the call fails with 403
``Authentication_RequestFromNonPremiumTenantOrB2CTenant``.

- The logs are the token's tenant's (``SimServer.add_sign_in(entry, tenant=...)``).
- ``$filter``: comparisons joined by ``and`` / ``or`` with parentheses, parsed with
  OData precedence (sim/graph_filter.py); anything else is a 400, so the product
  cannot lean on a clause the sim ignores.
- ``$top`` (at most 1000) pages newest first with an absolute ``@odata.nextLink``
  (fetched with GET, as Graph does).
- Throttling: more than 5 requests in any 10 s per app (token client id) and tenant
  is a 429 with ``Retry-After`` in seconds and Graph's error body (microsoft-graph-docs-contrib
  ``concepts/throttling-limits.md`` and ``concepts/throttling.md``). Tests change or
  switch it off with ``SimServer.sign_in_rate_limit`` (sim/rate_limit.py).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sim.directory import SIGN_IN_LOG_ROLE
from sim.errors import json_response
from sim.graph_filter import matches, parse_filter
from sim.state import RECORD_KEY, STATE_KEY, SimState
from sim.tokens import IssuedToken, same_resource

routes = web.RouteTableDef()

GRAPH_RESOURCE = "https://graph.microsoft.com"
PAGE_DEFAULT = 1000


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"date": "2026-01-01T00:00:00"}}}
    return json_response(body, status=status, headers=headers)


def throttled(retry_after_s: int) -> web.Response:
    """Graph's 429, shaped like the example in ``concepts/throttling.md``."""
    body = {
        "error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {
                "code": "429",
                "message": "Please retry after",
                "status": "429",
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
            },
        }
    }
    return json_response(body, status=429, headers={"Retry-After": str(retry_after_s)})


def graph_token(request: web.Request, state: SimState) -> IssuedToken | None:
    """The bearer token's registration if the sim's MI endpoint minted it for Graph
    and it has not expired; None otherwise (answer 401)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    issued = state.tokens.lookup(token.strip()) if scheme.lower() == "bearer" else None
    if (
        issued is None
        or issued.expires_on <= time.time()
        or not same_resource(issued.resource, GRAPH_RESOURCE)
    ):
        return None
    return issued


def check_graph_token(request: web.Request, state: SimState) -> web.Response | None:
    """401 unless the bearer token was minted by the sim's MI endpoint for Graph."""
    if graph_token(request, state) is None:
        return _invalid_token()
    return None


def _invalid_token() -> web.Response:
    return graph_error(
        401, "InvalidAuthenticationToken", "Access token is missing, invalid or not for Graph."
    )


@routes.get("/{version:v1.0|beta}/auditLogs/signIns")
async def sign_ins(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    issued = graph_token(request, state)
    if issued is None:
        return _invalid_token()
    record = request[RECORD_KEY]
    record.cmdlet = "signIns"
    tenant = issued.tenant_id
    record.tenant = tenant
    record.token_tenant, record.token_client = tenant, issued.client_id
    if tenant is None:
        # A real token always names its tenant; here no tenant was registered when it was minted.
        return graph_error(401, "InvalidAuthenticationToken", "The access token names no tenant.")
    if issued.roles is not None and SIGN_IN_LOG_ROLE not in issued.roles:
        # An app's token without the permission consented (Graph's answer for a missing role).
        return graph_error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
    # Per app and tenant, as Graph counts (throttling-limits.md): the app is the token's client.
    wait = state.sign_in_window.admit((tenant, issued.client_id.lower()), state.sign_in_limit)
    if wait is not None:
        return throttled(wait)
    if state.before_sign_ins is not None:
        state.before_sign_ins()
    hit = await state.faults.answer(service="graph-signins", paged="$skiptoken" in request.query)
    if hit is not None:
        return graph_error(hit.status, hit.code, hit.message, hit.headers)
    found = state.find_tenant(tenant)
    if not state.graph_premium or (found is not None and not found.premium):
        return graph_error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )
    try:
        flt = parse_filter(request.query.get("$filter", ""))
    except ValueError as exc:
        return graph_error(400, "BadRequest", str(exc))
    top = min(int(request.query.get("$top", PAGE_DEFAULT)), PAGE_DEFAULT)
    offset = int(request.query.get("$skiptoken", "0") or 0)
    rows = [e for e in state.sign_ins.entries(tenant) if matches(flt, e)]
    rows.sort(key=lambda e: e["createdDateTime"], reverse=True)
    page = rows[offset : offset + top]
    body: dict[str, Any] = {
        "@odata.context": f"{request.url.origin()}/{request.match_info['version']}/$metadata#auditLogs/signIns",
        "value": page,
    }
    if offset + top < len(rows):
        body["@odata.nextLink"] = str(request.url.update_query({"$skiptoken": str(offset + top)}))
    return json_response(body)


def sign_in(
    user: str,
    at: datetime,
    *,
    ip_address: str = "203.0.113.7",
    user_id: str = "",
    client_app: str = "Authenticated SMTP",
    error_code: int = 0,
    app: str = "",
) -> dict[str, Any]:
    """One sign-in log entry in Graph's shape (the fields the product reads).
    ``client_app``: SMTP AUTH is logged as "Authenticated SMTP" or "SMTP"."""
    return {
        "id": f"{user}-{at.timestamp()}",
        "createdDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userPrincipalName": user,
        "userId": user_id,
        "ipAddress": ip_address,
        "clientAppUsed": client_app,
        "appDisplayName": app,
        "status": {"errorCode": error_code, "failureReason": "" if error_code == 0 else "Invalid password"},
    }
