"""Builds the aiohttp application from one route table per simulated service.

To add a service (Graph sign-in logs, sendMail, a Teams webhook sink, $batch),
write a module with its own `routes = web.RouteTableDef()` that reads SimState via
`request.app[STATE_KEY]`, and add it to ROUTE_TABLES. Services and their facts:
docs/simulator.md (Exchange admin API facts, with their public sources).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from sim import (
    entra,
    exchange_admin,
    exchange_batch,
    graph_directory,
    graph_mail,
    graph_signins,
    managed_identity,
    teams_webhook,
)
from sim.records import RequestRecord
from sim.state import RECORD_KEY, STATE_KEY, SimState

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    managed_identity.routes,
    entra.routes,
    exchange_admin.routes,
    exchange_batch.routes,
    graph_signins.routes,
    graph_mail.routes,
    graph_directory.routes,
    teams_webhook.routes,
)


@web.middleware
async def record_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every request with the status it got, whatever the handler did."""
    state = request.app[STATE_KEY]
    record = RequestRecord.start(request)
    state.recorder.stamp(record)
    request[RECORD_KEY] = record
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        record.status = exc.status
        state.recorder.add(record)
        raise
    except asyncio.CancelledError:
        record.status = 499  # client went away (nginx's convention)
        state.recorder.add(record)
        raise
    except Exception:
        record.status = 500
        state.recorder.add(record)
        raise
    record.status = response.status
    state.recorder.add(record)
    return response


def build_app(state: SimState) -> web.Application:
    app = web.Application(middlewares=[record_requests])
    app[STATE_KEY] = state
    for table in ROUTE_TABLES:
        app.add_routes(table)
    return app
