"""Microsoft Graph sign-in logs: ``GET /v1.0/auditLogs/signIns`` (and ``/beta``).

/work/shared/reference/exchange-admin-api.md, "Usage evidence": SMTP AUTH sign-ins
carry ``clientAppUsed eq 'Authenticated SMTP'``; useful fields are
userPrincipalName, userId, createdDateTime, ipAddress, status/errorCode,
appDisplayName. Without an Entra ID P1 licence the call fails with 403
``Authentication_RequestFromNonPremiumTenantOrB2CTenant``.

The sim supports the ``$filter`` clauses that query needs, joined by ``and``:
``clientAppUsed eq '...'``, ``createdDateTime ge|le|eq <ISO time>`` (what Graph documents),
``status/errorCode eq <n>``, ``userPrincipalName eq '...'``; ``$top`` pages with an
absolute ``@odata.nextLink`` (fetched with GET, as Graph does). Anything else in
``$filter`` is a 400, so the product cannot lean on a clause the sim ignores.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from aiohttp import web

from sim.errors import json_response
from sim.state import RECORD_KEY, STATE_KEY, SimState
from sim.tokens import same_resource

routes = web.RouteTableDef()

GRAPH_RESOURCE = "https://graph.microsoft.com"
PAGE_DEFAULT = 1000
_CLAUSE = re.compile(
    r"^\s*(?P<field>clientAppUsed|createdDateTime|status/errorCode|userPrincipalName)\s+"
    r"(?P<op>eq|ge|le)\s+(?P<value>'[^']*'|[0-9TZ:.+-]+)\s*$",
    re.IGNORECASE,
)


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"date": "2026-01-01T00:00:00"}}}
    return json_response(body, status=status, headers=headers)


def check_graph_token(request: web.Request, state: SimState) -> web.Response | None:
    """401 unless the bearer token was minted by the sim's MI endpoint for Graph."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    issued = state.tokens.lookup(token.strip()) if scheme.lower() == "bearer" else None
    if (
        issued is None
        or issued.expires_on <= time.time()
        or not same_resource(issued.resource, GRAPH_RESOURCE)
    ):
        return graph_error(
            401, "InvalidAuthenticationToken", "Access token is missing, invalid or not for Graph."
        )
    return None


def _parse_filter(text: str) -> list[tuple[str, str, str]]:
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match:
            raise ValueError(f"Invalid filter clause: {part!r}")
        value = match["value"]
        clauses.append((match["field"].lower(), match["op"].lower(), value.strip("'")))
    return clauses


def _matches(entry: dict[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    for field, op, value in clauses:
        if field == "createdDateTime".lower():
            at = datetime.fromisoformat(entry["createdDateTime"])
            bound = datetime.fromisoformat(value)
            if not (at >= bound if op == "ge" else at <= bound if op == "le" else at == bound):
                return False
        elif field == "status/errorcode":
            if op != "eq" or entry["status"]["errorCode"] != int(value):
                return False
        elif op != "eq" or str(entry.get(_FIELD_NAMES[field], "")).lower() != value.lower():
            return False
    return True


_FIELD_NAMES = {"clientappused": "clientAppUsed", "userprincipalname": "userPrincipalName"}


@routes.get("/{version:v1.0|beta}/auditLogs/signIns")
async def sign_ins(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    denied = check_graph_token(request, state)
    if denied is not None:
        return denied
    record = request[RECORD_KEY]
    record.cmdlet = "signIns"
    if state.before_sign_ins is not None:
        state.before_sign_ins()
    hit = await state.faults.answer(service="graph-signins", paged="$skiptoken" in request.query)
    if hit is not None:
        return graph_error(hit.status, hit.code, hit.message, hit.headers)
    if not state.graph_premium:
        return graph_error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )
    try:
        clauses = _parse_filter(request.query.get("$filter", "")) if request.query.get("$filter") else []
    except ValueError as exc:
        return graph_error(400, "BadRequest", str(exc))
    top = min(int(request.query.get("$top", PAGE_DEFAULT)), PAGE_DEFAULT)
    offset = int(request.query.get("$skiptoken", "0") or 0)
    with state.lock:
        rows = [e for e in state.sign_ins if _matches(e, clauses)]
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
    """One sign-in log entry in Graph's shape (the fields the product reads)."""
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
