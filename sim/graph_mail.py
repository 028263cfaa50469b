"""Microsoft Graph ``POST /v1.0/users/{id}/sendMail`` (application permission Mail.Send).

/work/shared/reference/notifications.md: a bearer token for
https://graph.microsoft.com (the sim's managed identity endpoint mints it), a JSON
body ``{"message": {"subject", "body": {"contentType", "content"}, "toRecipients":
[{"emailAddress": {"address"}}]}, "saveToSentItems"}`` (parameter names in any case), ``202 Accepted`` with no
body on success, and Graph's error shape ``{"error": {"code", "message",
"innerError"}}`` otherwise. An application access policy that limits which mailboxes
the identity may send as is played by ``SimServer.mail_senders``.

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


@routes.post(SEND_MAIL_PATH)
async def send_mail(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    denied = check_graph_token(request, state)
    if denied is not None:
        return denied
    sender = request.match_info["user"]
    if not state.sinks.mail.may_send_as(sender):
        return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    raw = await request.read()  # received in full first: a slow answer still sends the mail
    hit = await state.faults.answer(service="graph-mail")
    if hit is not None:
        return graph_error(hit.status, hit.code, hit.message, hit.headers)

    try:
        body = json.loads(raw)
        mail = _parse(sender, body)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        return graph_error(400, "ErrorInvalidRequest", f"The request body is not valid: {exc}")
    if not mail.to:
        return graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
    state.sinks.mail.add(mail)
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
