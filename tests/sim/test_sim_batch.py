"""Contract of the simulator's Exchange $batch endpoint (sign-in logs: test_sim_signins.py).

Requests are sent as CIPP's ``New-ExoBulkRequest.ps1`` sends them: the outer
``Authorization`` copied into each item, ``Accept: application/json;
odata.metadata=minimal`` on the batch."""

from __future__ import annotations

from tests.sim.exo_http import ANCHOR, SEEDED, cmdlet_body, http

JSON = "application/json; odata.metadata=minimal"


def batch_url(exo) -> str:
    return exo.url.replace("/InvokeCommand", "/$batch")


def item(
    exo,
    call_id: str,
    cmdlet: str,
    params: dict,
    anchor: bool = True,
    auth: bool = True,
    url: str | None = None,
) -> dict:
    headers = {"X-AnchorMailbox": ANCHOR + exo.tenant.tenant_id} if anchor else {}
    if auth:
        headers["Authorization"] = f"Bearer {exo.token}"
    return {
        "id": call_id,
        "method": "POST",
        "url": url or exo.url,
        "body": cmdlet_body(cmdlet, params),
        "headers": headers,
    }


def batch_headers(exo, **extra: str) -> dict:
    return {**exo.headers(), "Accept": JSON, **extra}


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
        headers=batch_headers(exo, Prefer="odata.continue-on-error"),
    )
    assert reply.status == 200
    answers = {r["id"]: r for r in reply.json["responses"]}
    assert answers["a"]["status"] == 200 and exo.tenant.mailbox_at(3).smtp_auth_disabled is True
    assert (
        answers["b"]["status"] == 404
        and "ManagementObjectNotFoundException|" in answers["b"]["body"]["error"]["details"][0]["message"]
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
        headers=batch_headers(exo),
    )
    assert [r["status"] for r in reply.json["responses"]] == [400, 424]


def test_batch_holds_at_most_ten(exo):
    reply = http(
        "POST",
        batch_url(exo),
        body={"requests": [item(exo, str(i), "Get-TransportConfig", {}) for i in range(11)]},
        headers=batch_headers(exo),
    )
    assert reply.status == 400 and "at most 10" in reply.useful_message


def test_an_item_without_the_batchs_bearer_token_is_401(exo):
    reply = http(
        "POST",
        batch_url(exo),
        body={
            "requests": [
                item(exo, "with", "Get-TransportConfig", {}),
                item(exo, "without", "Get-TransportConfig", {}, auth=False),
            ]
        },
        headers=batch_headers(exo, Prefer="odata.continue-on-error"),
    )
    answers = {r["id"]: r for r in reply.json["responses"]}
    assert answers["with"]["status"] == 200
    assert answers["without"]["status"] == 401
    items = [r for r in exo.server.requests if r.cmdlet == "Get-TransportConfig"]
    assert sorted(r.bearer for r in items) == [False, True]  # each item's own header is recorded


def test_the_answer_is_multipart_unless_accept_asks_for_json(exo):
    body = {"requests": [item(exo, "a", "Get-TransportConfig", {})]}
    plain = http("POST", batch_url(exo), body=body, headers=exo.headers())  # no Accept
    assert plain.status == 200
    content_type = plain.headers.get("Content-Type")
    assert content_type.startswith("multipart/mixed; boundary=batchresponse_")
    boundary = content_type.split("boundary=", 1)[1]
    text = plain.raw.decode()
    assert text.startswith(f"--{boundary}\r\nContent-Type: application/http")
    assert "HTTP/1.1 200 OK" in text and text.endswith(f"--{boundary}--\r\n")

    as_json = http("POST", batch_url(exo), body=body, headers=batch_headers(exo))
    assert as_json.headers.get("Content-Type").startswith("application/json")
    assert as_json.json["responses"][0]["status"] == 200


def test_a_listing_item_pages_with_its_own_next_link(exo):
    select = "?$select=Guid"
    first = http(
        "POST",
        batch_url(exo),
        body={
            "requests": [
                item(exo, "all", "Get-CASMailbox", {"ResultSize": "Unlimited"}, url=exo.url + select)
            ]
        },
        headers=batch_headers(exo),
    )
    seen, body = [], first.json["responses"][0]["body"]
    while True:
        seen.extend(body["value"])
        link = body.get("@odata.nextLink")
        if not link:
            break
        assert "$select=Guid" in link and "$skiptoken=" in link
        again = http(
            "POST",
            batch_url(exo),
            body={"requests": [item(exo, "all", "Get-CASMailbox", {"ResultSize": "Unlimited"}, url=link)]},
            headers=batch_headers(exo),
        )
        body = again.json["responses"][0]["body"]
    assert len(seen) == SEEDED and len({m["Guid"] for m in seen}) == SEEDED
