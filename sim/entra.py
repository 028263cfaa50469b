"""Microsoft Entra ID's token endpoint for a multi-tenant app that trusts the managed
identity: ``POST /{tenant}/oauth2/v2.0/token`` (client credentials with a
``client_assertion``), served over HTTPS only (sim/tls.py).

/work/shared/reference/deployment.md, "Multi-tenant access": the app registration
lives in the home tenant; its federated identity credential names the issuer
``https://login.microsoftonline.com/{home tenant}/v2.0``, the subject (the
user-assigned identity's principal id, case-sensitive) and the audience
(``api://AzureADTokenExchange`` or a sovereign cloud's). The managed identity's token
for that audience is the assertion. Wrong values are accepted when the credential is
made and fail only at the exchange. The app must be consented in each customer
tenant (its service principal exists there) and consent grants app roles, not a
directory role: that one an admin assigns apart, and Exchange asks for it.

The sim checks the assertion it receives against the tokens its managed identity
endpoint issued (its tokens are opaque, never JWTs): issuer = the tenant the
identity's token was issued in, subject = the identity's principal id, audience =
the token's resource, not expired. It issues tokens bound to the requested tenant,
carrying the app roles granted there at issue time. Errors have Entra's body
``{error, error_description: "AADSTSnnn: ...", error_codes, timestamp, trace_id,
correlation_id, error_uri}`` (docs/simulator.md lists each with its source).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from aiohttp import web

from sim.directory import LOGIN_HOST, SimApp, issuer_of, principal_id
from sim.graph_signins import GRAPH_RESOURCE
from sim.state import RECORD_KEY, STATE_KEY, SimState
from sim.tokens import EXCHANGE_RESOURCE, IssuedToken, same_resource

routes = web.RouteTableDef()

TOKEN_ROUTE = "/{tenant}/oauth2/v2.0/token"  # noqa: S105 (a path, not a secret)
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_RESOURCES = (EXCHANGE_RESOURCE, GRAPH_RESOURCE)


def entra_error(status: int, error: str, code: int, description: str) -> web.Response:
    """Entra's error body (e.g. Azure/azure-workload-identity#616, microsoft/AzureTRE#1475)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}"
        ),
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{LOGIN_HOST}/error?code={code}",
    }
    return web.json_response(body, status=status)


@routes.post(TOKEN_ROUTE)
async def token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    record = request[RECORD_KEY]
    record.cmdlet = "token"
    if not request.secure:
        return web.json_response(
            {"error": "invalid_request", "error_description": "the token endpoint answers over HTTPS only"},
            status=400,
        )
    segment = request.match_info["tenant"]
    tenant = state.find_tenant(segment)
    if tenant is None:
        return entra_error(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud. Check with your subscription administrator, this may "
            "happen if there are no active subscriptions for the tenant.",
        )
    record.tenant = tenant.tenant_id
    form = await request.post()
    client_id = str(form.get("client_id", ""))
    scope = str(form.get("scope", ""))
    record.parameters = {"client_id": client_id, "scope": scope}  # never the assertion
    if "claims" in form:
        # A claims request (a CAE challenge answered): kept for tests to read; not a secret.
        record.parameters["claims"] = str(form["claims"])
    if form.get("grant_type") != "client_credentials":
        return entra_error(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{form.get('grant_type')}'.",
        )
    assertion = str(form.get("client_assertion", ""))
    if form.get("client_assertion_type") != JWT_BEARER or not assertion:
        return entra_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_assertion' "
            f"(with client_assertion_type '{JWT_BEARER}').",
        )
    app = state.directory.app(client_id)
    if app is None or (not app.multi_tenant and app.home_tenant.lower() != tenant.tenant_id):
        return entra_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{segment}'. "
            "This can happen if the application has not been installed by the administrator of the "
            "tenant or consented to by any user in the tenant. You may have sent your authentication "
            "request to the wrong tenant.",
        )
    refused = _check_assertion(state, app, assertion)
    if refused is not None:
        return refused
    grant = state.directory.grant(tenant.tenant_id, app.app_id)
    if grant is None:
        # No consent in this tenant: the app has no service principal there.
        return entra_error(
            401,
            "invalid_client",
            7000229,
            f"The client application {app.app_id} is missing service principal in the tenant "
            f"{tenant.tenant_id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
        )
    scopes = scope.split()
    resource = scopes[0][: -len("/.default")] if len(scopes) == 1 and scopes[0].endswith("/.default") else ""
    if not resource:
        return entra_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a "
            "scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    if not any(same_resource(resource, known) for known in _RESOURCES):
        return entra_error(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant.tenant_id}. "
            "This can happen if the application has not been installed by the administrator of the "
            "tenant or consented to by any user in the tenant. You might have sent your authentication "
            "request to the wrong tenant.",
        )
    lifetime = state.token_lifetime_s
    access_token, _ = state.tokens.mint(resource, app.app_id, lifetime, tenant.tenant_id, roles=grant.roles)
    return web.json_response(
        {
            "token_type": "Bearer",
            "expires_in": int(lifetime),
            "ext_expires_in": int(lifetime),
            "access_token": access_token,
        }
    )


def _check_assertion(state: SimState, app: SimApp, assertion: str) -> web.Response | None:
    """The assertion must be a managed identity token this sim issued, unexpired, that
    one of the app's federated credentials names exactly (issuer, subject, audience)."""
    issued: IssuedToken | None = state.tokens.lookup(assertion)
    if issued is None or issued.tenant_id is None:
        return entra_error(401, "invalid_client", 50027, "JWT token is invalid or malformed.")
    now = time.time()
    if issued.expires_on <= now:
        current = datetime.fromtimestamp(now, UTC).isoformat()
        expiry = datetime.fromtimestamp(issued.expires_on, UTC).isoformat()
        return entra_error(
            401,
            "invalid_client",
            700024,
            f"Client assertion is not within its valid time range. Current time: {current}, expiry time "
            f"of assertion {expiry}.",
        )
    issuer, subject, audience = issuer_of(issued.tenant_id), principal_id(issued.client_id), issued.resource
    check = "Check your federated identity credential Subject, Audience and Issuer against the presented assertion."
    by_issuer = [c for c in app.credentials if c.issuer == issuer]
    if not by_issuer:
        return entra_error(
            401,
            "invalid_client",
            700211,
            f"No matching federated identity record found for presented assertion issuer '{issuer}'. {check}",
        )
    by_subject = [c for c in by_issuer if c.subject == subject]  # case-sensitive, as Entra
    if not by_subject:
        return entra_error(
            401,
            "invalid_client",
            700213,
            f"No matching federated identity record found for presented assertion subject '{subject}'. {check}",
        )
    if not any(audience in c.audiences for c in by_subject):
        return entra_error(
            401,
            "invalid_client",
            700212,
            f"No matching federated identity record found for presented assertion audience '{audience}'. {check}",
        )
    return None
