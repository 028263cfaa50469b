"""Exchange Online admin API ``$batch``: up to 10 InvokeCommand calls in one POST.

/work/shared/reference/exchange-admin-api.md, "Batching": ``POST
.../adminapi/beta/{tenant}/$batch`` with ``{"requests": [{"id", "method", "url",
"body", "headers"}]}``, at most 10 sub-requests, each answered with its own
status and body; ``Prefer: odata.continue-on-error`` keeps going past a failed
item. Without it the sim stops at the first failure and answers the rest 424
(Failed Dependency), as OData batch processing does.

Each sub-request is recorded like a single call (so ``set_calls`` sees batched
Set-* calls) and meets the same per-cmdlet faults.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from yarl import URL

from sim.cmdlets import run_cmdlet
from sim.errors import ExchangeError, exchange_error_body, exchange_error_response, json_response
from sim.exchange_admin import _check_anchor, _check_token, _transport_error
from sim.odata import context_url, parse_select, query_value
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
    _check_token(request, state)
    tenant = state.find_tenant(segment)
    if tenant is None:
        raise _transport_error(404, "NotFound", f"The tenant '{segment}' could not be found.")
    record.tenant = tenant.tenant_id
    record.cmdlet = "$batch"
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
    if hit is not None:
        raise _transport_error(hit.status, hit.code, hit.message, headers=hit.headers)

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
    return json_response({"responses": responses})


async def _one(request: web.Request, state: SimState, tenant: SimTenant, sub: Any) -> dict[str, Any]:
    sub_id = str(sub.get("id", "")) if isinstance(sub, dict) else ""
    url = URL(str(sub.get("url", ""))) if isinstance(sub, dict) else URL()
    record = RequestRecord(
        method=str(sub.get("method", "")) if isinstance(sub, dict) else "",
        path=url.path,
        query=dict(url.query),
        headers={},
        bearer=True,  # the batch itself carried it
        tenant=tenant.tenant_id,
    )
    try:
        cmdlet, params = _parse_sub(sub, url, tenant)
        record.cmdlet, record.parameters = cmdlet, params
        hit = await state.faults.answer(service="exchange", cmdlet=cmdlet)
        if hit is not None:
            raise _transport_error(hit.status, hit.code, hit.message)
        output = run_cmdlet(tenant, cmdlet, params)
        select_raw = query_value(url.query, "$select")
        body = {
            "@odata.context": context_url(request.url, tenant.tenant_id, output.type_name),
            "value": output.page(0, 1000, parse_select(select_raw)),
        }
        if output.warnings:
            body["@adminapi.warnings"] = output.warnings
        answer = {"id": sub_id, "status": 200, "body": body}
    except ExchangeError as err:
        answer = {"id": sub_id, "status": err.status, "body": exchange_error_body(err)}
    record.status = answer["status"]
    state.recorder.add(record)
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
