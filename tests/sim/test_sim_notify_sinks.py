"""The simulator's Teams Workflows webhook and Graph sendMail, spoken to over plain
HTTP: what they accept, what they refuse, what they record, and their faults."""

from __future__ import annotations

import pytest

from sim import SimServer
from tests.sim.exo_http import http, mint_token

GRAPH = "https://graph.microsoft.com"


def card_body(text: str = "hello") -> dict:
    card = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": text}]}
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def mail_body(**message: object) -> dict:
    base = {
        "subject": "Drift",
        "body": {"contentType": "html", "content": "<p>x</p>"},
        "toRecipients": [{"emailAddress": {"address": "secops@contoso.com"}}],
    }
    return {"message": {**base, **message}, "saveToSentItems": False}


def test_webhook_accepts_a_card_and_records_it(fresh_sim: SimServer) -> None:
    url = fresh_sim.add_teams_webhook()
    reply = http("POST", url, body=card_body(), headers={"Content-Type": "application/json"})
    assert (reply.status, reply.raw) == (202, b"")
    (post,) = fresh_sim.teams_posts
    assert post.card["body"][0]["text"] == "hello" and post.size > 0


def test_webhook_checks_its_signature_and_knows_its_workflows(fresh_sim: SimServer) -> None:
    url = fresh_sim.add_teams_webhook()
    wrong = url[:-4] + "AAAA"
    assert http("POST", wrong, body=card_body()).status == 401
    assert http("POST", url.split("&sig=")[0], body=card_body()).status == 401
    other = url.replace("/workflows/", "/workflows/0")
    assert http("POST", other, body=card_body()).status == 404
    assert fresh_sim.teams_posts == []


def test_webhook_accepts_what_its_flow_then_rejects_and_only_its_run_log_says_so(
    fresh_sim: SimServer,
) -> None:
    """Workflows answers 202 before the flow runs: an oversized or malformed card is
    accepted, its run fails, and nothing reaches the channel."""
    url = fresh_sim.add_teams_webhook()
    too_big = http("POST", url, body=card_body("x" * 21_000))
    assert (too_big.status, too_big.raw) == (202, b"")
    assert http("POST", url, body={"type": "message", "attachments": []}).status == 202
    connector_style = {"@type": "MessageCard", "text": "legacy connector payload"}
    assert http("POST", url, body=connector_style).status == 202
    assert http("POST", url, body=card_body("fits")).status == 202
    assert [p.card["body"][0]["text"] for p in fresh_sim.teams_posts] == ["fits"]
    runs = fresh_sim.teams_runs
    assert [r.status for r in runs] == ["Failed", "Failed", "Failed", "Succeeded"]
    assert "bytes" in runs[0].error and runs[0].size > 21_000
    assert "attachments" in runs[1].error and '"type": "message"' in runs[2].error
    assert runs[3].error is None


def test_webhook_refuses_a_body_that_is_not_json_at_the_door(fresh_sim: SimServer) -> None:
    url = fresh_sim.add_teams_webhook()
    assert http("POST", url, raw=b"{not json").status == 400
    assert fresh_sim.teams_posts == [] and fresh_sim.teams_runs == []


def test_webhook_faults(fresh_sim: SimServer) -> None:
    url = fresh_sim.add_teams_webhook()
    fresh_sim.faults.throttle(times=1, retry_after=7, service="teams")
    fresh_sim.faults.fail(500, "The flow run failed.", times=1, service="teams")
    first = http("POST", url, body=card_body())
    assert (first.status, first.headers["Retry-After"]) == (429, "7")
    second = http("POST", url, body=card_body())
    assert second.status == 500 and second.json["error"]["message"] == "The flow run failed."
    assert http("POST", url, body=card_body()).status == 202
    assert len(fresh_sim.teams_posts) == 1


def send_mail(sim: SimServer, body: dict, token: str | None, sender: str = "guard@contoso.com"):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http("POST", f"{sim.url}/v1.0/users/{sender}/sendMail", body=body, headers=headers)


def test_send_mail_needs_a_graph_token(fresh_sim: SimServer) -> None:
    graph = mint_token(fresh_sim, GRAPH).json["access_token"]
    exchange = mint_token(fresh_sim).json["access_token"]
    assert send_mail(fresh_sim, mail_body(), None).status == 401
    denied = send_mail(fresh_sim, mail_body(), exchange)
    assert denied.status == 401 and denied.json["error"]["code"] == "InvalidAuthenticationToken"
    assert send_mail(fresh_sim, mail_body(), graph).status == 202
    (mail,) = fresh_sim.sent_mails
    assert (mail.sender, mail.subject, mail.content_type, mail.to) == (
        "guard@contoso.com",
        "Drift",
        "html",
        ("secops@contoso.com",),
    )
    assert mail.save_to_sent_items is False


def test_send_mail_reads_parameters_in_any_case_and_refuses_bad_bodies(fresh_sim: SimServer) -> None:
    token = mint_token(fresh_sim, GRAPH).json["access_token"]
    sdk_style = {"Message": mail_body()["message"], "SaveToSentItems": False}  # as msgraph-sdk sends it
    assert send_mail(fresh_sim, sdk_style, token).status == 202
    assert (
        send_mail(fresh_sim, mail_body(toRecipients=[]), token).json["error"]["code"]
        == "ErrorInvalidRecipients"
    )
    assert send_mail(fresh_sim, {"subject": "no message"}, token).status == 400
    assert len(fresh_sim.sent_mails) == 1


def test_send_mail_as_a_mailbox_the_policy_forbids(fresh_sim: SimServer) -> None:
    token = mint_token(fresh_sim, GRAPH).json["access_token"]
    fresh_sim.mail_senders = ["guard@contoso.com"]
    try:
        refused = send_mail(fresh_sim, mail_body(), token, sender="ceo@contoso.com")
        assert refused.status == 403 and refused.json["error"]["code"] == "ErrorAccessDenied"
        assert refused.json["error"]["message"] == "Access to OData is disabled."
        assert send_mail(fresh_sim, mail_body(), token, sender="GUARD@contoso.com").status == 202
    finally:
        fresh_sim.mail_senders = None


def test_send_mail_without_the_permission(fresh_sim: SimServer) -> None:
    token = mint_token(fresh_sim, GRAPH).json["access_token"]
    fresh_sim.mail_send_granted = False
    try:
        refused = send_mail(fresh_sim, mail_body(), token)
    finally:
        fresh_sim.mail_send_granted = True
    assert (refused.status, refused.json["error"]["code"]) == (403, "ErrorAccessDenied")
    assert refused.json["error"]["message"] == "Access is denied. Check credentials and try again."
    assert "innerError" in refused.json["error"] and fresh_sim.sent_mails == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ErrorInvalidUser", "The requested user 'nobody@contoso.com' is invalid."),
        ("ResourceNotFound", "Resource could not be discovered."),
        (
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ),
    ],
)
def test_send_mail_as_a_sender_that_is_not_a_mailbox(fresh_sim: SimServer, code: str, message: str) -> None:
    token = mint_token(fresh_sim, GRAPH).json["access_token"]
    fresh_sim.set_mail_sender_problem("Nobody@contoso.com", code)
    try:
        refused = send_mail(fresh_sim, mail_body(), token, sender="nobody@contoso.com")
        assert send_mail(fresh_sim, mail_body(), token).status == 202  # other senders still work
    finally:
        fresh_sim.set_mail_sender_problem("nobody@contoso.com", None)
    assert (refused.status, refused.json["error"]["code"], refused.json["error"]["message"]) == (
        404,
        code,
        message,
    )
    assert send_mail(fresh_sim, mail_body(), token, sender="nobody@contoso.com").status == 202
    with pytest.raises(ValueError, match="unknown sendMail sender problem"):
        fresh_sim.set_mail_sender_problem("x@contoso.com", "Nope")


def test_send_mail_faults(fresh_sim: SimServer) -> None:
    token = mint_token(fresh_sim, GRAPH).json["access_token"]
    fresh_sim.faults.throttle(times=1, retry_after=30, service="graph-mail")
    fresh_sim.faults.unavailable(times=1, status=503, service="graph-mail")
    first = send_mail(fresh_sim, mail_body(), token)
    assert (first.status, first.headers["Retry-After"], first.json["error"]["code"]) == (
        429,
        "30",
        "TooManyRequests",
    )
    assert send_mail(fresh_sim, mail_body(), token).status == 503
    assert send_mail(fresh_sim, mail_body(), token).status == 202
    assert len(fresh_sim.sent_mails) == 1
