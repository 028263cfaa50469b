"""Exchange Online admin API ``$batch``: up to 10 InvokeCommand calls in one POST.

docs/simulator.md (Exchange admin API facts, with their public sources), "Batching": ``POST
.../adminapi/beta/{tenant}/$batch`` with ``{"requests": [{"id", "method", "url",
"body", "headers"}]}``, at most 10 sub-requests, each answered with its own
status and body; ``Prefer: odata.continue-on-error`` keeps going past a failed
item. Without it the sim stops at the first failure and answers the rest 424
(Failed Dependency), as OData batch processing does.

Each sub-request is recorded like a single call (so ``set_calls`` sees batched
Set-* calls) and meets the same per-cmdlet faults.

As production tools send it (docs/simulator.md (Exchange admin API facts, with their public sources),
"Corrections found in the 2026-12 audit", "`$batch`"; CIPP-API
``New-ExoBulkRequest.ps1``): each item carries the outer ``Authorization`` header and
its own anchor; an item without the same bearer token is answered 401 (whether Exchange
needs it is unknown: answering 401 makes a client that omits it fail here first). The
answer is JSON only when the outer ``Accept`` asks for ``application/json``; otherwise it
is ``multipart/mixed``, as CIPP's first version had to parse. A listing item pages like
InvokeCommand (``Prefer: odata.maxpagesize`` of the item, else of the batch) and its body
carries an ``@odata.nextLink`` to re-send the item with.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from http import HTTPStatus
from typing import Any

from aiohttp import web
from yarl import URL

from sim.cmdlets import run_cmdlet
from sim.errors import ODATA_JSON, ExchangeError, exchange_error_body, exchange_error_response, json_response
from sim.exchange_admin import (
    _check_anchor,
    _check_token,
    _transport_error,
    add_extras,
    check_access,
    fault_error,
    not_allowed,
    redirect_for,
)
from sim.odata import context_url, decode_skiptoken, next_link, page_size, parse_select, query_value
from sim.records import RequestRecord
from sim.state import RECORD_KEY, STATE_KEY, SimState
from sim.tenant import SimTenant

routes = web.RouteTableDef()

BATCH_PATH = "/adminapi/beta/{tenant}/$batch"
MAX_REQUESTS = 10


@routes.post(BATCH_PATH)
async def batch(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        response = await _batch(request, state)
    except ExchangeError as err:
        response = exchange_error_response(err)
    delay = state.faults.latency_s(len(response.body) if isinstance(response.body, bytes) else 0)
    if delay > 0:
        await asyncio.sleep(delay)
    return response


async def _batch(request: web.Request, state: SimState) -> web.Response:
    record = request[RECORD_KEY]
    segment = request.match_info["tenant"]
    issued = _check_token(request, state)
    tenant = state.find_tenant(segment)
    if tenant is None:
        raise _transport_error(404, "NotFound", f"The tenant '{segment}' could not be found.")
    record.tenant = tenant.tenant_id
    check_access(state, issued, tenant, record)
    record.cmdlet = "$batch"
    redirect = redirect_for(request, tenant)
    if redirect is not None:
        return redirect
    _check_anchor(request.headers.get("X-AnchorMailbox"), tenant)
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise _transport_error(400, "BadRequest", "The batch body is not valid JSON.") from None
    subs = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(subs, list) or not subs:
        raise _transport_error(400, "BadRequest", "The batch body must hold a non-empty 'requests' list.")
    if len(subs) > MAX_REQUESTS:
        raise _transport_error(
            400, "BadRequest", f"A batch may hold at most {MAX_REQUESTS} requests; got {len(subs)}."
        )
    if tenant.forbidden is not False:
        message = (
            tenant.forbidden if isinstance(tenant.forbidden, str) and tenant.forbidden else "Access denied"
        )
        raise _transport_error(403, "Forbidden", message, summary="Access denied")
    hit = await state.faults.answer(service="exchange-batch")
    if hit is not None and not hit.extra:
        raise fault_error(hit)

    keep_going = "odata.continue-on-error" in request.headers.get("Prefer", "").lower()
    responses: list[dict[str, Any]] = []
    failed = False
    for sub in subs:
        sub_id = str(sub.get("id", "")) if isinstance(sub, dict) else ""
        if failed and not keep_going:
            responses.append({"id": sub_id, "status": 424, "body": {}})
            continue
        answer = await _one(request, state, tenant, sub)
        failed = failed or answer["status"] >= 400
        responses.append(answer)
    if "application/json" not in request.headers.get("Accept", "").lower():
        return multipart_response(responses)
    return json_response({"responses": responses})


def multipart_response(responses: list[dict[str, Any]]) -> web.Response:
    """The batch answer as ``multipart/mixed``, one ``application/http`` part per item
    (OData's multipart batch format), for a request whose ``Accept`` does not ask for JSON."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    parts = []
    for answer in responses:
        status = int(answer["status"])
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        body = json.dumps(answer.get("body", {}), separators=(",", ":"))
        parts.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {answer['id']}\r\n\r\nHTTP/1.1 {status} {reason}\r\nContent-Type: {ODATA_JSON}\r\n\r\n"
            f"{body}\r\n"
        )
    text = "".join(parts) + f"--{boundary}--\r\n"
    response = web.Response(body=text.encode())
    response.headers["Content-Type"] = f"multipart/mixed; boundary={boundary}"
    return response


def _bearer(headers: Any) -> str | None:
    if not isinstance(headers, dict):
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == "authorization"), None)
    return value if isinstance(value, str) else None


async def _one(request: web.Request, state: SimState, tenant: SimTenant, sub: Any) -> dict[str, Any]:
    sub_id = str(sub.get("id", "")) if isinstance(sub, dict) else ""
    url = URL(str(sub.get("url", ""))) if isinstance(sub, dict) else URL()
    item_headers = sub.get("headers") if isinstance(sub, dict) else None
    item_auth = _bearer(item_headers)
    record = RequestRecord(
        method=str(sub.get("method", "")) if isinstance(sub, dict) else "",
        path=url.path,
        query=dict(url.query),
        headers={},
        bearer=bool(item_auth) and item_auth.lower().startswith("bearer "),  # the item's own
        tenant=tenant.tenant_id,
        generation=request[RECORD_KEY].generation,  # the $batch request's arrival
    )
    ran = False  # the cmdlet ran without error: its change is made
    match: dict[str, Any] = {}  # the fault rules' matching options for this item
    try:
        cmdlet, params = _parse_sub(sub, url, tenant)
        record.cmdlet, record.parameters = cmdlet, params
        if item_auth != request.headers.get("Authorization"):
            raise _transport_error(
                401,
                "Unauthorized",
                "The batch item carries no Authorization header, or not the batch's own bearer token.",
                summary="Access denied: the access token is not valid.",
            )
        if not tenant.exchange_role:
            raise not_allowed(cmdlet)
        skiptoken = query_value(url.query, "$skiptoken")
        match = {
            "service": "exchange",
            "cmdlet": cmdlet,
            "paged": skiptoken is not None,
            "tenant": tenant.tenant_id,
        }
        hit = await state.faults.answer(**match)
        if hit is not None and not hit.extra:
            raise fault_error(hit)
        try:
            offset = decode_skiptoken(skiptoken) if skiptoken is not None else 0
        except ValueError:
            raise _transport_error(400, "BadRequest", f"The $skiptoken '{skiptoken}' is not valid.") from None
        output = run_cmdlet(tenant, cmdlet, params)
        ran = True
        select_raw = query_value(url.query, "$select")
        prefer = next(
            (v for k, v in (item_headers or {}).items() if str(k).lower() == "prefer"),
            request.headers.get("Prefer"),
        )
        size = page_size(prefer if isinstance(prefer, str) else None)
        body: dict[str, Any] = {
            "@odata.context": context_url(request.url, tenant.tenant_id, output.type_name),
            "value": output.page(offset, size, parse_select(select_raw)),
        }
        if offset + size < output.total:
            body["@odata.nextLink"] = next_link(url, select_raw, offset + size)
        elif output.warnings:
            body["@adminapi.warnings"] = output.warnings
        add_extras(body, hit)
        answer = {"id": sub_id, "status": 200, "body": body}
    except ExchangeError as err:
        answer = {"id": sub_id, "status": err.status, "body": exchange_error_body(err)}
    record.status = answer["status"]
    state.recorder.add(record)  # before any hold: a change made is recorded, answered or not
    if ran:
        await state.faults.hold(**match)
    return answer


def _parse_sub(sub: Any, url: URL, tenant: SimTenant) -> tuple[str, dict[str, Any]]:
    def bad(message: str) -> ExchangeError:
        return _transport_error(400, "BadRequest", message)

    if not isinstance(sub, dict) or not sub.get("id"):
        raise bad("Each batch request needs an 'id'.")
    if str(sub.get("method", "")).upper() != "POST":
        raise bad("Batched InvokeCommand requests must use POST.")
    parts = url.path.rstrip("/").split("/")
    if (
        len(parts) < 2
        or parts[-1] != "InvokeCommand"
        or parts[-2].lower()
        not in (
            tenant.tenant_id,
            tenant.initial_domain,
        )
    ):
        raise bad(f"Batched request url '{url}' is not this tenant's InvokeCommand endpoint.")
    # Each item is routed by its own anchor, like a single call (the official module
    # and CIPP's bulk requests send per-item X-AnchorMailbox headers).
    headers = sub.get("headers") if isinstance(sub.get("headers"), dict) else {}
    anchor = next((v for k, v in headers.items() if k.lower() == "x-anchormailbox"), None)
    _check_anchor(anchor if isinstance(anchor, str) else None, tenant)
    body = sub.get("body")
    cmdlet_input = body.get("CmdletInput") if isinstance(body, dict) else None
    if not isinstance(cmdlet_input, dict) or not isinstance(cmdlet_input.get("CmdletName"), str):
        raise bad("Batched request body must hold CmdletInput.CmdletName.")
    params = cmdlet_input.get("Parameters") or {}
    if not isinstance(params, dict):
        raise bad("CmdletInput.Parameters must be a JSON object.")
    return cmdlet_input["CmdletName"], params


__all__ = ["BATCH_PATH", "RECORD_KEY", "routes"]
