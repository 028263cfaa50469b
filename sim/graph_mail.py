"""Microsoft Graph ``POST /v1.0/users/{id}/sendMail`` (application permission Mail.Send).

docs/simulator.md (Teams and mail facts, with their public sources): a bearer token for
https://graph.microsoft.com (the sim's managed identity endpoint mints it), a JSON
body ``{"message": {"subject", "body": {"contentType", "content"}, "toRecipients":
[{"emailAddress": {"address"}}]}, "saveToSentItems"}`` (parameter names in any case), ``202 Accepted`` with no
body on success, and Graph's error shape ``{"error": {"code", "message",
"innerError"}}`` otherwise.

Refusals of the setup, which no retry cures ("Corrections found in the 2026-12
audit": microsoft-graph-docs #5143, #7580, microsoft-graph-docs-contrib#405, #8731;
the bodies as captured in public threads, e.g. iyear/E5SubBot#39):

* no Mail.Send in the token (``SimServer.mail_send_granted = False``): 403
  ``ErrorAccessDenied`` "Access is denied. Check credentials and try again.";
* a sender that is not a user (``SimServer.mail_sender_problems[address] =
  "ErrorInvalidUser"``): 404 "The requested user '<address>' is invalid."; one that
  was deleted (``"ResourceNotFound"``): 404 "Resource could not be discovered."; a
  user without an Exchange Online mailbox (no licence, a guest, on-premises:
  ``"MailboxNotEnabledForRESTAPI"``): 404 "The mailbox is either inactive,
  soft-deleted, or is hosted on-premise.";
* a sender outside the application access policy (``SimServer.mail_senders``): 403
  ``ErrorAccessDenied`` "Access to OData is disabled." (the text the Graph docs quote).

Faults: ``service="graph-mail"`` (429 with Retry-After, 503, slow, ...).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sim.graph_signins import check_graph_token, graph_error
from sim.sinks import SentMail
from sim.state import STATE_KEY

routes = web.RouteTableDef()

SEND_MAIL_PATH = "/v1.0/users/{user}/sendMail"
# Graph's 404 codes for a sender that is not a mailbox it can send from, with their texts.
SENDER_PROBLEMS = {
    "ErrorInvalidUser": "The requested user '{sender}' is invalid.",
    "ResourceNotFound": "Resource could not be discovered.",
    "MailboxNotEnabledForRESTAPI": "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
}


@routes.post(SEND_MAIL_PATH)
async def send_mail(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    denied = check_graph_token(request, state)
    if denied is not None:
        return denied
    sender = request.match_info["user"]
    mail = state.sinks.mail
    if not mail.send_granted:
        return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    problem = mail.sender_problems.get(sender.lower())
    if problem is not None:
        return graph_error(404, problem, SENDER_PROBLEMS[problem].format(sender=sender))
    if not mail.may_send_as(sender):
        return graph_error(403, "ErrorAccessDenied", "Access to OData is disabled.")

    raw = await request.read()  # received in full first: a slow answer still sends the mail
    hit = await state.faults.answer(service="graph-mail")
    if hit is not None:
        return graph_error(hit.status, hit.code, hit.message, hit.headers)

    try:
        body = json.loads(raw)
        sent = _parse(sender, body)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        return graph_error(400, "ErrorInvalidRequest", f"The request body is not valid: {exc}")
    if not sent.to:
        return graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
    state.sinks.mail.add(sent)
    return web.Response(status=202)


def _field(obj: Any, name: str) -> Any:
    """Action parameters bind case-insensitively in Graph: msgraph-sdk sends
    "Message" and "SaveToSentItems", the docs write "message"; both work."""
    if not isinstance(obj, dict):
        raise TypeError("the request body must be a JSON object")
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return None


def _parse(sender: str, body: Any) -> SentMail:
    message = _field(body, "message")
    if not isinstance(message, dict):
        raise KeyError("message")
    content = message["body"]
    recipients = tuple(r["emailAddress"]["address"] for r in message.get("toRecipients") or [])
    if any(not isinstance(r, str) or "@" not in r for r in recipients):
        raise ValueError("a recipient has no address")
    subject = message.get("subject")
    if not isinstance(subject, str) or not isinstance(content.get("content"), str):
        raise TypeError("subject and body.content must be strings")
    return SentMail(
        sender=sender,
        subject=subject,
        content_type=str(content.get("contentType", "text")).lower(),
        content=content["content"],
        to=recipients,
        save_to_sent_items=_field(body, "saveToSentItems"),
    )
