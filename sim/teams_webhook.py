"""A Teams Workflows webhook ("When a Teams webhook request is received").

docs/simulator.md (Teams and mail facts, with their public sources): the flow's URL is an opaque signed HTTPS
URL (``...&sig=...``); the body is ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <Adaptive Card>}]}``.

"Corrections found in the 2026-12 audit": Workflows answers ``202 Accepted`` before
the flow runs. A malformed or oversized card fails later, inside the flow run, and
only the flow's run history says so (nicholas-fedor/shoutrrr PR #900,
robusta-dev/robusta PR #2113, MicrosoftDocs/msteams-docs#11302). The sim plays that:
202 for every authenticated JSON body, and the outcome in its own flow run log
(``SimServer.teams_runs``); only a run that succeeded posts to the channel
(``SimServer.teams_posts``). A card past about 21 KB fails its run
(xing/msteams_hermes measured about 21 KB and caps at 21,000 bytes; Teams documents
28 KB).

Faults: ``service="teams"`` (429 with Retry-After, 500, slow, ...).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from sim.sinks import FlowRun, TeamsPost
from sim.state import STATE_KEY

routes = web.RouteTableDef()

WEBHOOK_PATH = "/workflows/{workflow}/triggers/manual/paths/invoke"
API_VERSION = "2016-06-01"
MAX_BYTES = 21_000  # where a maintained client measured the real limit (audit)
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # Logic Apps' error shape.
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


@routes.post(WEBHOOK_PATH)
async def invoke(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    workflow = request.match_info["workflow"]
    expected = state.sinks.teams.signature(workflow)
    if expected is None:
        return _error(404, "WorkflowNotFound", f"The workflow '{workflow}' could not be found.")
    sig = request.query.get("sig", "")
    if not sig:
        return _error(401, "DirectApiAuthorizationRequired", "The request must be authenticated.")
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        return _error(401, "DirectApiInvalidAuthorizationSignature", "The provided signature is not valid.")

    raw = await request.read()  # received in full first: a slow flow still gets the post
    hit = await state.faults.answer(service="teams")
    if hit is not None:
        return _error(hit.status, hit.code, hit.message, hit.headers)

    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        # The trigger parses the body before the flow runs (assumption: no public
        # capture of this answer was found; the product only ever posts JSON).
        return _error(400, "InvalidRequestContent", "The request body is not valid JSON.")
    # Accepted: what follows happens in the flow run, which the sender never sees.
    teams = state.sinks.teams
    problem = _problem(payload)
    if problem is None and len(raw) > MAX_BYTES:
        problem = f"The message is {len(raw)} bytes; Teams posts at most about {MAX_BYTES}."
    problem = problem or teams.broken(workflow)
    if problem is None:
        teams.add(TeamsPost(workflow, payload, len(raw)))
    teams.add_run(FlowRun(workflow, "Failed" if problem else "Succeeded", problem, len(raw)))
    return web.Response(status=202)


def _problem(payload: Any) -> str | None:
    """What Teams would refuse to post, or None."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return 'The body must be an object with "type": "message".'
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "The message has no attachments."
    for item in attachments:
        if not isinstance(item, dict) or item.get("contentType") != CARD_TYPE:
            return f"Every attachment must have contentType {CARD_TYPE}."
        content = item.get("content")
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return "The attachment content must be an AdaptiveCard."
        if not isinstance(content.get("body"), list) or not isinstance(content.get("version"), str):
            return "The Adaptive Card needs a version and a body."
    return None
