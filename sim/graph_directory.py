"""Graph routes for the permission step (infra/scripts/grant_permissions.py): look up
service principals by appId, list and grant app role assignments (sim/graph_objects.py,
with the sources), list and add an application's federated identity credentials (on
the app registrations of sim/directory.py, which the Entra token endpoint checks)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sim.directory import FederatedCredential
from sim.graph_objects import app_id_filter
from sim.graph_signins import check_graph_token, graph_error
from sim.state import STATE_KEY, SimState

routes = web.RouteTableDef()
Handler = Callable[[web.Request, SimState], Awaitable[web.Response]]


def graph_call(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """401 without a Graph token from the sim's identity endpoint; else the handler."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        denied = check_graph_token(request, state)
        return denied if denied is not None else await handler(request, state)

    return answer


def _denied() -> web.Response:
    return graph_error(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def _not_found(what: str) -> web.Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.",
    )


async def _body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@routes.get("/v1.0/servicePrincipals")
@graph_call
async def list_service_principals(request: web.Request, state: SimState) -> web.Response:
    directory = state.graph_objects
    app_id = app_id_filter(request.query.get("$filter", ""))
    if app_id is None:
        return graph_error(400, "BadRequest", "Only $filter=appId eq '<guid>' is played here.")
    return web.json_response({"value": directory.by_app_id(app_id)})


ASSIGNMENTS = "/v1.0/servicePrincipals/{id}/appRoleAssignments"


@routes.get(ASSIGNMENTS)
@routes.post(ASSIGNMENTS)
@graph_call
async def assignments(request: web.Request, state: SimState) -> web.Response:
    """GET lists the principal's app role assignments; POST grants one."""
    directory = state.graph_objects
    principal = request.match_info["id"]
    if principal not in directory.service_principals:
        return _not_found(principal)
    if request.method == "GET":
        return web.json_response({"value": directory.assignments_of(principal)})
    if not directory.writable:
        return _denied()
    body = await _body(request)
    if (
        body is None
        or body.get("principalId") != principal
        or not body.get("resourceId")
        or not body.get("appRoleId")
    ):
        return graph_error(
            400,
            "Request_BadRequest",
            "principalId (this service principal), resourceId and appRoleId are required.",
        )
    result = directory.assign(principal, str(body["resourceId"]), str(body["appRoleId"]))
    if isinstance(result, str):
        return graph_error(400, "Request_BadRequest", result)
    return web.json_response(result, status=201)


CREDENTIALS = "/v1.0/applications(appId='{app_id}')/federatedIdentityCredentials"


@routes.get(CREDENTIALS)
@routes.post(CREDENTIALS)
@graph_call
async def credentials(request: web.Request, state: SimState) -> web.Response:
    """GET lists the application's federated identity credentials; POST adds one."""
    app_id = request.match_info["app_id"].lower()
    app = state.directory.app(app_id)
    if app is None:
        return _not_found(app_id)
    if request.method == "GET":
        return web.json_response({"value": [_shown(app_id, c) for c in app.credentials]})
    if not state.graph_objects.writable:
        return _denied()
    body = await _body(request)
    fields = ("name", "issuer", "subject", "audiences")
    if body is None or any(not body.get(f) for f in fields) or not isinstance(body["audiences"], list):
        return graph_error(400, "Request_BadRequest", "name, issuer, subject and audiences are required.")
    if any(c.name == body["name"] for c in app.credentials):
        return graph_error(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            "FederatedIdentityCredential with name already exists.",
        )
    credential = FederatedCredential(
        issuer=str(body["issuer"]),
        subject=str(body["subject"]),
        audiences=tuple(str(a) for a in body["audiences"]),
        name=str(body["name"]),
    )
    app.credentials.append(credential)
    return web.json_response(_shown(app_id, credential), status=201)


def _shown(app_id: str, credential: FederatedCredential) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{app_id}/{credential.name}")),
        "name": credential.name,
        "issuer": credential.issuer,
        "subject": credential.subject,
        "audiences": list(credential.audiences),
    }
