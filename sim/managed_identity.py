"""Managed identity token endpoint (App Service / Azure Functions protocol).

docs/simulator.md (Exchange admin API facts, with their public sources), "Managed identity": inside Azure
Functions azure-identity's ManagedIdentityCredential reads IDENTITY_ENDPOINT and
IDENTITY_HEADER and calls `GET {IDENTITY_ENDPOINT}?resource=...&api-version=2019-08-01`
with header `X-IDENTITY-HEADER`. Pointing those variables at this route lets the
real credential class run against the sim.

Errors carry the App Service body ``{"statusCode", "message", "correlationId"}``; an
unknown user-assigned client id is 400 "Unable to load the proper Managed Identity."
(docs/simulator.md (Exchange admin API facts, with their public sources), "Corrections found in the 2026-12
audit"). The identity lives in one tenant (``SimServer.identity_tenant``) and its
tokens are issued there.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from sim.errors import identity_error_response
from sim.state import RECORD_KEY, STATE_KEY

routes = web.RouteTableDef()

MSI_ROUTE = "/msi/token"
API_VERSION = "2019-08-01"
UNKNOWN_IDENTITY = "Unable to load the proper Managed Identity."


@routes.get(MSI_ROUTE)
async def msi_token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.recorder.count_token_request()
    # Faults: ``service="identity"`` (slow: an endpoint that never answers in time;
    # a failure answers with the platform's error body).
    hit = await state.faults.answer(service="identity")
    if hit is not None:
        return identity_error_response(hit.status, hit.message)
    secret = request.headers.get("X-IDENTITY-HEADER", "")
    # Constant-time compare: it is a secret, even if a throwaway one.
    if not hmac.compare_digest(secret.encode(), state.identity_header.encode()):
        return identity_error_response(401, "The X-IDENTITY-HEADER header is missing or invalid.")
    if request.query.get("api-version") != API_VERSION:
        return identity_error_response(400, f"api-version must be {API_VERSION}.")
    resource = request.query.get("resource", "")
    if not resource:
        return identity_error_response(400, "The 'resource' query parameter is required.")
    client_id = request.query.get("client_id") or state.default_client_id
    allowed = state.allowed_client_ids
    if allowed is not None and client_id.lower() not in allowed:
        # Same outcome as a wrong AZURE_CLIENT_ID for a user-assigned identity, in the
        # platform's words (it does not say which id it could not find).
        return identity_error_response(400, UNKNOWN_IDENTITY)
    audience = state.identity_audience or resource
    token, issued = state.tokens.mint(audience, client_id, state.token_lifetime_s, state.identity_tenant_id())
    request[RECORD_KEY].parameters = {"resource": resource, "client_id": client_id}
    return web.json_response(
        {
            "access_token": token,
            "expires_on": str(int(issued.expires_on)),
            "resource": audience,
            "token_type": "Bearer",
            "client_id": client_id,
        }
    )
