"""Exchange Online admin API: `POST /adminapi/beta/{tenant}/InvokeCommand`.

Implements the transport described in docs/simulator.md (Exchange admin API facts, with their public sources),
"The transport": bearer token for https://outlook.office365.com, X-AnchorMailbox
routing header, `{"CmdletInput": {"CmdletName", "Parameters"}}` body, `$select`,
`Prefer: odata.maxpagesize`, paging by POSTing the same body to the nextLink, the
error shape, 403 (sometimes with an empty body), and the throttling answers; from the
audit ("Corrections found in the 2026-12 audit"): cmdlet errors as `Ex<hex>|<type>|<text>`,
the 401 "User is not allowed to call <cmdlet>" of a missing Exchange role, `@adminapi.errors`
and warnings-only 200s (fault switches), and tenant-specific hosts (a redirect).

Checks run in the order a request meets them: token, tenant, tenant host (redirect),
anchor, body, grants (403 / 401), concurrency/faults, $skiptoken, cmdlet.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from aiohttp import web
from yarl import URL

from sim.cmdlets import run_cmdlet
from sim.directory import EXCHANGE_APP_ROLE
from sim.errors import (
    ODATA_EXCEPTION,
    ExchangeError,
    cmdlet_error_message,
    exchange_error_response,
    json_response,
)
from sim.faults import BROKEN_KINDS, CONCURRENT_LIMIT_MESSAGE, FaultHit
from sim.odata import context_url, decode_skiptoken, next_link, page_size, parse_select, query_value
from sim.records import RequestRecord
from sim.state import RECORD_KEY, STATE_KEY, SimState
from sim.tenant import SimTenant
from sim.tokens import EXCHANGE_RESOURCE, IssuedToken, same_resource

routes = web.RouteTableDef()

INVOKE_PATH = "/adminapi/beta/{tenant}/InvokeCommand"
SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
_ANCHOR = re.compile(r"^(APP|UPN):SystemMailbox\{bb558c35-97f1-4cb9-8ff7-d53741dc928c\}@(.+)$", re.IGNORECASE)
_NO_ROLE = (
    "The user or application is not authorized to run this cmdlet: the identity has no "
    "Exchange role in this organization."
)
_WWW_AUTHENTICATE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'error="invalid_token"'
)


def _transport_error(
    status: int,
    code: str,
    message: str,
    *,
    summary: str = "The request was not processed.",
    headers: dict[str, str] | None = None,
) -> ExchangeError:
    """An error raised by the transport itself rather than by a cmdlet."""
    return ExchangeError(
        status,
        code,
        message,
        summary=summary,
        exception_type=ODATA_EXCEPTION,
        headers=headers,
    )


def fault_error(hit: FaultHit, *, summary: str = "The request was not processed.") -> ExchangeError:
    """The error an armed fault answers: a cmdlet's (``Ex...|type|text``) when the
    rule names an exception type, else one of the transport's (a refused token's with
    its Bearer challenge)."""
    if hit.kind == "refused_token":
        return _unauthorized(hit.message)
    if hit.exception_type:
        return ExchangeError(
            hit.status, hit.code, hit.message, exception_type=hit.exception_type, headers=hit.headers
        )
    return _transport_error(hit.status, hit.code, hit.message, summary=summary, headers=hit.headers)


def not_allowed(cmdlet: str) -> ExchangeError:
    """401 of an identity whose Exchange role does not include the cmdlet: the text is
    ``error.message`` itself, no details (office-docs-powershell#7970). Whether it
    carries a Bearer challenge is unknown; it does here, the harder case for a client,
    which must not take it for a refused token."""
    return ExchangeError(
        401,
        "Unauthorized",
        f"User is not allowed to call {cmdlet}",
        exception_type=ODATA_EXCEPTION,
        details=False,
        headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
    )


def redirect_for(request: web.Request, tenant: SimTenant) -> web.Response | None:
    """A tenant with its own host answers requests that reach another host with a
    redirect there, path and query kept (ScubaGear ``EXORestHelper.psm1``; the status
    and whether ``Location`` is absolute are unknown: 302 and absolute by default)."""
    home = tenant.home_host
    if not home or request.host.lower() == home.lower():
        return None
    location = f"{request.scheme}://{home}{request.path_qs}"
    return web.Response(status=tenant.redirect_status, headers={"Location": location})


def add_extras(body: dict[str, Any], hit: FaultHit | None) -> None:
    """What a success-with-extras fault adds to a 200 body."""
    if hit is None or not hit.extra:
        return
    if hit.kind == "partial_errors":
        body["@adminapi.errors"] = [cmdlet_error_message(hit.exception_type or ODATA_EXCEPTION, hit.message)]
    elif hit.kind == "warnings_only":
        body.pop("value", None)
        body["@adminapi.warnings"] = [hit.message]


@routes.post(INVOKE_PATH)
async def invoke_command(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    segment = request.match_info["tenant"]
    tenant = state.find_tenant(segment)
    flight_key = tenant.tenant_id if tenant else segment.lower()
    in_flight = state.enter(flight_key)
    try:
        try:
            response = await _invoke(request, state, tenant, in_flight)
        except ExchangeError as err:
            response = exchange_error_response(err)
        # Latency model: every answer costs a fixed part plus a part per KB.
        body = response.body if isinstance(response, web.Response) else None
        delay = state.faults.latency_s(len(body) if isinstance(body, bytes) else 0)
        if delay > 0:
            await asyncio.sleep(delay)
        return response
    finally:
        state.leave(flight_key)


@routes.get(INVOKE_PATH)
async def invoke_command_get(request: web.Request) -> web.Response:
    # The real endpoint is POST-only, also for nextLink pages.
    return exchange_error_response(
        _transport_error(
            405,
            "MethodNotAllowed",
            "InvokeCommand only accepts POST; fetch the next page by POSTing the same body to the nextLink.",
            summary="The requested resource does not support http method 'GET'.",
            headers={"Allow": "POST"},
        )
    )


async def _invoke(
    request: web.Request, state: SimState, tenant: SimTenant | None, in_flight: int
) -> web.StreamResponse:
    record = request[RECORD_KEY]
    parsed, body_error = await _parse_body(request, record)

    issued = _check_token(request, state)
    if tenant is None:
        raise _transport_error(
            404,
            "NotFound",
            f"The tenant '{request.match_info['tenant']}' could not be found.",
            summary="Tenant not found",
        )
    record.tenant = tenant.tenant_id
    check_access(state, issued, tenant, record)
    redirect = redirect_for(request, tenant)
    if redirect is not None:
        return redirect
    _check_anchor(request.headers.get("X-AnchorMailbox"), tenant)
    if parsed is None:
        raise body_error or _transport_error(400, "BadRequest", "The request body is invalid.")
    cmdlet, params = parsed

    if tenant.forbidden is not False:
        if tenant.forbidden == "":
            return web.Response(status=403)  # seen for real: 403 with no body at all
        message = tenant.forbidden if isinstance(tenant.forbidden, str) else _NO_ROLE
        raise _transport_error(403, "Forbidden", message, summary="Access denied")
    if not tenant.exchange_role:
        raise not_allowed(cmdlet)

    query = request.query
    skiptoken = query_value(query, "$skiptoken")
    cap = state.faults.max_concurrent_per_tenant
    if cap is not None and in_flight > cap:
        raise _transport_error(
            429, "TooManyRequests", CONCURRENT_LIMIT_MESSAGE, summary=CONCURRENT_LIMIT_MESSAGE
        )
    hit = await state.faults.answer(
        service="exchange", cmdlet=cmdlet, paged=skiptoken is not None, tenant=tenant.tenant_id
    )
    if hit is not None and not hit.extra:
        summary = hit.message if hit.kind == "concurrent_limit" else "The request was not processed."
        raise fault_error(hit, summary=summary)

    offset = 0
    if skiptoken is not None:
        try:
            offset = decode_skiptoken(skiptoken)
        except ValueError:
            raise _transport_error(
                400,
                "BadRequest",
                f"The $skiptoken '{skiptoken}' is not valid.",
                summary="Invalid paging token",
            ) from None

    output = run_cmdlet(tenant, cmdlet, params)
    # A write is made now; a slow(after_apply=True) rule holds only its answer.
    await state.faults.hold(
        service="exchange", cmdlet=cmdlet, paged=skiptoken is not None, tenant=tenant.tenant_id
    )
    select_raw = query_value(query, "$select")
    size = page_size(request.headers.get("Prefer"))
    objects = output.page(offset, size, parse_select(select_raw))
    body: dict[str, Any] = {
        "@odata.context": context_url(request.url, request.match_info["tenant"], output.type_name),
        "value": objects,
    }
    if offset + size < output.total:
        link_base = (
            URL(state.next_link_origin).join(request.url.relative())
            if state.next_link_origin
            else request.url
        )
        body[state.next_link_key] = next_link(link_base, select_raw, offset + size)
    elif output.warnings:
        body["@adminapi.warnings"] = output.warnings
    add_extras(body, hit)
    if hit is not None and hit.kind == "repeat_next_link":
        body[state.next_link_key] = str(request.url)  # the page just fetched, again
    response = json_response(body)
    if request.headers.get("Prefer"):
        response.headers["Preference-Applied"] = f"odata.maxpagesize={size}"
    if hit is not None and hit.kind in BROKEN_KINDS - {"repeat_next_link"}:
        return await broken(request, response, hit.kind)
    return response


async def broken(request: web.Request, whole: web.Response, how: str) -> web.StreamResponse:
    """``whole`` as a broken 200: cut, replaced by an HTML page, or dropped mid-body."""
    data = whole.body if isinstance(whole.body, bytes) else b""
    if how == "truncated":
        return web.Response(body=data[: len(data) // 2], status=200, content_type="application/json")
    if how == "not_json":
        page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        return web.Response(body=page, status=200, content_type="text/html")
    # reset: the headers promise the whole body; half arrives, then the connection drops.
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(data)
    await response.prepare(request)
    await response.write(data[: len(data) // 2])
    if request.transport is not None:
        request.transport.abort()
    return response


async def _parse_body(
    request: web.Request, record: RequestRecord
) -> tuple[tuple[str, dict[str, Any]] | None, ExchangeError | None]:
    """(cmdlet, parameters) or the 400 to answer once auth has passed."""

    def bad(message: str) -> tuple[None, ExchangeError]:
        return None, _transport_error(400, "BadRequest", message, summary="The request body is invalid.")

    raw = await request.read()
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return bad("The request body is not valid JSON.")
    cmdlet_input = data.get("CmdletInput") if isinstance(data, dict) else None
    if not isinstance(cmdlet_input, dict):
        return bad("The request body must be a JSON object with a 'CmdletInput' object.")
    name = cmdlet_input.get("CmdletName")
    params = cmdlet_input.get("Parameters", {})
    if not isinstance(name, str) or not name:
        return bad("CmdletInput.CmdletName is missing.")
    record.cmdlet = name
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return bad("CmdletInput.Parameters must be a JSON object.")
    record.parameters = params
    return (name, params), None


def _unauthorized(message: str) -> ExchangeError:
    return _transport_error(
        401,
        "Unauthorized",
        message,
        summary="Access denied: the access token is not valid.",
        headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
    )


def _check_token(request: web.Request, state: SimState) -> IssuedToken:

    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("No bearer token in the Authorization header.")
    issued = state.tokens.lookup(token.strip())
    if issued is None:
        raise _unauthorized("The bearer token was not issued by this (simulated) identity platform.")
    if issued.expires_on <= time.time():
        raise _unauthorized("The bearer token has expired.")
    if not same_resource(issued.resource, EXCHANGE_RESOURCE):
        raise _unauthorized(
            f"The bearer token is for resource '{issued.resource}', not '{EXCHANGE_RESOURCE}'."
        )
    return issued


def check_access(state: SimState, issued: IssuedToken, tenant: SimTenant, record: RequestRecord) -> None:
    """A token names one tenant: another tenant's is refused (401), as is an app's token
    without the Exchange.ManageAsApp app role (401); an app whose service principal
    has no directory role in this tenant is refused with 403 (deployment.md 3.2: a
    public project measured 401 with neither grant, 403 with the app role only)."""
    record.token_tenant, record.token_client = issued.tenant_id, issued.client_id
    if issued.tenant_id is not None and issued.tenant_id != tenant.tenant_id:
        raise _unauthorized(
            f"The access token was issued in tenant '{issued.tenant_id}', not in this organization "
            f"('{tenant.tenant_id}')."
        )
    if issued.roles is None:
        return  # the managed identity: its grants are SimTenant.forbidden
    if EXCHANGE_APP_ROLE not in issued.roles:
        raise _unauthorized(
            f"The application is not allowed to call the Exchange admin API: its token has no "
            f"'{EXCHANGE_APP_ROLE}' role."
        )
    grant = state.directory.grant(tenant.tenant_id, issued.client_id)
    if grant is None or grant.directory_role is None:
        raise _transport_error(403, "Forbidden", _NO_ROLE, summary="Access denied")


def _check_anchor(anchor: str | None, tenant: SimTenant) -> None:
    expected = f"APP:{SYSTEM_MAILBOX}@{tenant.tenant_id}"
    if not anchor or not anchor.strip():
        raise _transport_error(
            400,
            "BadRequest",
            f"The X-AnchorMailbox header is missing. The service routes each request by its anchor "
            f"mailbox; send '{expected}'.",
            summary="Anchor mailbox missing",
        )
    match = _ANCHOR.match(anchor.strip())
    valid = False
    if match:
        kind, where = match.group(1).upper(), match.group(2).lower()
        targets = (tenant.tenant_id, tenant.initial_domain) if kind == "APP" else (tenant.initial_domain,)
        valid = where in targets
    if not valid:
        raise _transport_error(
            400,
            "BadRequest",
            f"The X-AnchorMailbox header '{anchor}' is invalid for tenant '{tenant.tenant_id}'; send "
            f"'{expected}' (or UPN:{SYSTEM_MAILBOX}@{tenant.initial_domain}).",
            summary="Anchor mailbox invalid",
        )
