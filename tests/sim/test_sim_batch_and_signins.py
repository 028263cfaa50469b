"""Contract of the simulator's $batch and Graph sign-in log endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sim.graph_signins import sign_in
from tests.sim.exo_http import ANCHOR, cmdlet_body, http, mint_token


def batch_url(exo) -> str:
    return exo.url.replace("/InvokeCommand", "/$batch")


def item(exo, call_id: str, cmdlet: str, params: dict, anchor: bool = True) -> dict:
    headers = {"X-AnchorMailbox": ANCHOR + exo.tenant.tenant_id} if anchor else {}
    return {
        "id": call_id,
        "method": "POST",
        "url": exo.url,
        "body": cmdlet_body(cmdlet, params),
        "headers": headers,
    }


def test_batch_answers_each_item_and_records_set_calls(exo):
    mailbox = exo.tenant.mailbox_at(3)  # seeded with False
    reply = http(
        "POST",
        batch_url(exo),
        body={
            "requests": [
                item(
                    exo,
                    "a",
                    "Set-CASMailbox",
                    {"Identity": mailbox.guid, "SmtpClientAuthenticationDisabled": True},
                ),
                item(
                    exo,
                    "b",
                    "Set-CASMailbox",
                    {"Identity": "nobody@example.com", "SmtpClientAuthenticationDisabled": True},
                ),
                item(exo, "c", "Get-CASMailbox", {"Identity": mailbox.guid}, anchor=False),
            ]
        },
        headers={**exo.headers(), "Prefer": "odata.continue-on-error"},
    )
    assert reply.status == 200
    answers = {r["id"]: r for r in reply.json["responses"]}
    assert answers["a"]["status"] == 200 and exo.tenant.mailbox_at(3).smtp_auth_disabled is True
    assert (
        answers["b"]["status"] == 404
        and "couldn't be found" in answers["b"]["body"]["error"]["details"][0]["message"]
    )
    assert (
        answers["c"]["status"] == 400
        and "X-AnchorMailbox" in answers["c"]["body"]["error"]["details"][0]["message"]
    )
    assert [r.parameters["Identity"] for r in exo.server.set_calls if r.status == 200] == [mailbox.guid]


def test_batch_without_continue_on_error_stops_at_the_first_failure(exo):
    reply = http(
        "POST",
        batch_url(exo),
        body={"requests": [item(exo, "a", "Get-Nothing", {}), item(exo, "b", "Get-TransportConfig", {})]},
        headers=exo.headers(),
    )
    assert [r["status"] for r in reply.json["responses"]] == [400, 424]


def test_batch_holds_at_most_ten(exo):
    reply = http(
        "POST",
        batch_url(exo),
        body={"requests": [item(exo, str(i), "Get-TransportConfig", {}) for i in range(11)]},
        headers=exo.headers(),
    )
    assert reply.status == 400 and "at most 10" in reply.useful_message


def graph_get(server, token: str, query: str = ""):
    return http(
        "GET", f"{server.url}/v1.0/auditLogs/signIns{query}", headers={"Authorization": f"Bearer {token}"}
    )


def test_sign_ins_filter_and_paging(fresh_sim):
    token = mint_token(fresh_sim, resource="https://graph.microsoft.com").json["access_token"]
    now = datetime.now(UTC)
    fresh_sim.clear_sign_ins()
    for i in range(5):
        fresh_sim.add_sign_in(sign_in(f"u{i}@contoso.com", now - timedelta(days=i * 10)))
    fresh_sim.add_sign_in(sign_in("spray@contoso.com", now, error_code=50126))
    fresh_sim.add_sign_in(sign_in("eas@contoso.com", now, client_app="Exchange ActiveSync"))
    since = (now - timedelta(days=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    flt = f"clientAppUsed eq 'Authenticated SMTP' and status/errorCode eq 0 and createdDateTime ge {since}"
    first = graph_get(fresh_sim, token, f"?$filter={quote(flt)}&$top=2")
    assert first.status == 200
    users = [e["userPrincipalName"] for e in first.json["value"]]
    second = http("GET", first.json["@odata.nextLink"], headers={"Authorization": f"Bearer {token}"})
    users += [e["userPrincipalName"] for e in second.json["value"]]
    assert users == ["u0@contoso.com", "u1@contoso.com", "u2@contoso.com"]
    assert "@odata.nextLink" not in second.json
    fresh_sim.clear_sign_ins()


def test_sign_ins_need_a_graph_token_p1_and_a_known_filter(fresh_sim):
    exchange = mint_token(fresh_sim).json["access_token"]
    graph = mint_token(fresh_sim, resource="https://graph.microsoft.com").json["access_token"]
    assert graph_get(fresh_sim, exchange).status == 401
    assert (
        graph_get(fresh_sim, graph, "?$filter=" + quote("createdDateTime gt 2026-01-01T00:00:00Z")).status
        == 400
    )
    fresh_sim.graph_premium = False
    try:
        denied = graph_get(fresh_sim, graph)
        assert denied.status == 403
        assert denied.json["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    finally:
        fresh_sim.graph_premium = True
