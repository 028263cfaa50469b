"""The simulated Entra token endpoint (client credentials with a client assertion) and
the tenant binding of tokens at Exchange and Graph: raw HTTP(S), no product code."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from sim import SimServer
from sim.directory import EXCHANGE_APP_ROLE
from tests.sim.exo_http import ANCHOR, cmdlet_body, http, mint_token

UAMI = "0b7c6d5e-4f3a-4b2c-8d1e-9f8a7b6c5d4e"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
GRAPH = "https://graph.microsoft.com"
_NO_PROXY = urllib.request.ProxyHandler({})


def post_token(sim: SimServer, tenant: str, form: dict[str, str], *, secure: bool = True) -> tuple[int, Any]:
    base = sim.entra_url if secure else sim.url
    url = f"{base}/{tenant}/oauth2/v2.0/token"
    assert url.startswith(("https://127.0.0.1:", "http://127.0.0.1:"))  # loopback only
    context = ssl.create_default_context(cafile=sim.ca_bundle)  # verification stays on
    opener = urllib.request.build_opener(_NO_PROXY, urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")  # noqa: S310
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def assertion(sim: SimServer, audience: str = "api://AzureADTokenExchange", client_id: str = UAMI) -> str:
    reply = mint_token(sim, resource=audience, client_id=client_id)
    assert reply.status == 200, reply.raw
    return reply.json["access_token"]


def exchange_form(
    sim: SimServer, app_id: str, scope: str = EXCHANGE_SCOPE, **overrides: str
) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": app_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": overrides.pop("client_assertion", None) or assertion(sim),
        "scope": scope,
    }
    form.update(overrides)
    return form


@pytest.fixture
def setup(fresh_sim: SimServer):
    """A home tenant with the identity and the app, and one customer tenant."""
    home, customer, app_id = (str(uuid.uuid4()) for _ in range(3))
    fresh_sim.add_tenant(home, f"h{home[:8]}.onmicrosoft.com")
    fresh_sim.add_tenant(customer, f"c{customer[:8]}.onmicrosoft.com")
    fresh_sim.identity_tenant = home
    fresh_sim.register_app(app_id, trusts_client_id=UAMI)
    yield fresh_sim, home, customer, app_id
    fresh_sim.clear_apps()
    for t in (home, customer):
        fresh_sim.remove_tenant(t)


def aadsts(body: dict[str, Any]) -> int:
    assert set(body) >= {"error", "error_description", "error_codes", "trace_id", "correlation_id"}
    (code,) = body["error_codes"]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    return code


def test_a_consented_tenant_gets_a_token_bound_to_it_with_the_granted_roles(setup):
    sim, _home, customer, app_id = setup
    sim.consent(customer, app_id)
    status, body = post_token(sim, customer, exchange_form(sim, app_id))
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] > 0
    token = body["access_token"]
    reply = http(
        "POST",
        f"{sim.url}/adminapi/beta/{customer}/InvokeCommand",
        body=cmdlet_body("Get-TransportConfig"),
        headers={"Authorization": f"Bearer {token}", "X-AnchorMailbox": ANCHOR + customer},
    )
    assert reply.status == 200
    (record,) = [r for r in sim.requests if r.cmdlet == "Get-TransportConfig"]
    assert (record.token_tenant, record.token_client) == (customer, app_id)
    (exchange,) = [r for r in sim.requests if r.cmdlet == "token"]
    assert "client_assertion" not in json.dumps(exchange.parameters)  # never recorded


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no consent", 401, 7000229),
        ("unknown app", 400, 700016),
        ("unknown tenant", 400, 90002),
        ("not an assertion", 401, 50027),
        ("expired assertion", 401, 700024),
        ("another issuer", 401, 700211),
        ("another identity", 401, 700213),
        ("another audience", 401, 700212),
        ("no .default", 400, 1002012),
        ("unknown resource", 400, 500011),
    ],
)
def test_the_token_endpoint_refuses_with_entras_codes(setup, case, status, code):
    sim, _home, customer, app_id = setup
    tenant = customer
    if case != "no consent":
        sim.consent(customer, app_id)
    form = exchange_form(sim, app_id)
    if case == "unknown app":
        form["client_id"] = str(uuid.uuid4())
    elif case == "unknown tenant":
        tenant = str(uuid.uuid4())
    elif case == "not an assertion":
        form["client_assertion"] = "eyJhbGciOi.not-one.we-issued"
    elif case == "expired assertion":
        sim.expire_tokens()
    elif case == "another issuer":
        sim.register_app(app_id, home_tenant=customer, trusts_client_id=UAMI)
    elif case == "another identity":
        form["client_assertion"] = assertion(sim, client_id=str(uuid.uuid4()))
    elif case == "another audience":
        form["client_assertion"] = assertion(sim, audience="api://AzureADTokenExchangeUSGov")
    elif case == "no .default":
        form["scope"] = "https://outlook.office365.com/Exchange.ManageAsApp"
    elif case == "unknown resource":
        form["scope"] = "https://management.azure.com/.default"
    got, body = post_token(sim, tenant, form)
    assert (got, aadsts(body)) == (status, code)


def test_the_token_endpoint_answers_over_https_only(setup):
    sim, _home, customer, app_id = setup
    sim.consent(customer, app_id)
    status, body = post_token(sim, customer, exchange_form(sim, app_id), secure=False)
    assert status == 400 and body["error"] == "invalid_request"


def test_consent_without_the_exchange_role_or_the_app_role(setup):
    sim, _home, customer, app_id = setup
    url = f"{sim.url}/adminapi/beta/{customer}/InvokeCommand"

    def call(token: str):
        headers = {"Authorization": f"Bearer {token}", "X-AnchorMailbox": ANCHOR + customer}
        return http("POST", url, body=cmdlet_body("Get-TransportConfig"), headers=headers)

    sim.consent(customer, app_id, directory_role=None)
    _, body = post_token(sim, customer, exchange_form(sim, app_id))
    no_role = call(body["access_token"])
    assert no_role.status == 403 and no_role.json["error"]["code"] == "Forbidden"

    sim.consent(customer, app_id, roles=[])  # consent without Exchange.ManageAsApp
    _, body = post_token(sim, customer, exchange_form(sim, app_id))
    no_app_role = call(body["access_token"])
    assert no_app_role.status == 401 and EXCHANGE_APP_ROLE in no_app_role.useful_message
    assert no_app_role.headers.get("WWW-Authenticate", "").startswith("Bearer ")


def test_exchange_refuses_a_token_issued_in_another_tenant(setup):
    sim, home, customer, _app = setup
    home_token = sim.issue_token(tenant=home)  # the managed identity's, at home
    reply = http(
        "POST",
        f"{sim.url}/adminapi/beta/{customer}/InvokeCommand",
        body=cmdlet_body("Get-TransportConfig"),
        headers={"Authorization": f"Bearer {home_token}", "X-AnchorMailbox": ANCHOR + customer},
    )
    assert reply.status == 401 and reply.json["error"]["code"] == "Unauthorized"
    assert f"issued in tenant '{home}'" in reply.useful_message


def test_graph_refuses_an_exchange_audience_token_and_an_app_without_the_log_permission(setup):
    sim, _home, customer, app_id = setup
    url = f"{sim.url}/v1.0/auditLogs/signIns"
    exchange_audience = assertion(sim)  # the identity's token for api://AzureADTokenExchange
    reply = http("GET", url, headers={"Authorization": f"Bearer {exchange_audience}"})
    assert reply.status == 401 and reply.json["error"]["code"] == "InvalidAuthenticationToken"

    sim.consent(customer, app_id, roles=[EXCHANGE_APP_ROLE])  # no AuditLog.Read.All
    _, body = post_token(sim, customer, exchange_form(sim, app_id, scope=GRAPH + "/.default"))
    reply = http("GET", url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert reply.status == 403 and reply.json["error"]["code"] == "Authorization_RequestDenied"

    sim.consent(customer, app_id)
    sim.tenant(customer).premium = False  # this tenant has no Entra ID P1
    _, body = post_token(sim, customer, exchange_form(sim, app_id, scope=GRAPH + "/.default"))
    reply = http("GET", url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert reply.status == 403
    assert reply.json["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
