"""Contract of the simulator's Exchange $batch endpoint (sign-in logs: test_sim_signins.py)."""

from __future__ import annotations

from tests.sim.exo_http import ANCHOR, cmdlet_body, http


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
