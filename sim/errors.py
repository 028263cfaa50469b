"""Error bodies in the shapes the real services use.

Exchange admin API shape (from /work/shared/reference/exchange-admin-api.md,
"Errors"): `{"error": {"code", "message", "details": [{"code", "message",
"target"}], "innererror": {"internalException": {"message"}}}}`, where the useful
text sits in `details[0].message`, then `innererror.internalException.message`,
then `error.message`. The sim puts the useful text in details and innererror and a
generic summary in `error.message`, so a client that reads the wrong field shows a
vague message in tests too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

# What the real service sends as Content-Type for JSON bodies.
ODATA_JSON = (
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
)


class ExchangeError(Exception):
    """Raised inside the Exchange handlers; turned into the error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        summary: str = "Error executing cmdlet",
        exception_type: str = "Microsoft.Exchange.Management.PSDirectInvoke.DirectInvokeCmdletExecutionException",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.summary = summary
        self.exception_type = exception_type
        self.headers = dict(headers or {})


def exchange_error_body(err: ExchangeError) -> dict[str, Any]:
    short_type = err.exception_type.rsplit(".", 1)[-1]
    return {
        "error": {
            "code": err.code,
            "message": err.summary,
            "details": [{"code": short_type, "message": err.message, "target": ""}],
            "innererror": {
                "message": err.summary,
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                "internalException": {"message": err.message, "type": err.exception_type},
            },
        }
    }


def json_response(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """Compact JSON like the real service (size matters for the latency model)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    response = web.Response(body=data, status=status, headers=dict(headers or {}))
    response.headers["Content-Type"] = ODATA_JSON
    return response


def exchange_error_response(err: ExchangeError) -> web.Response:
    return json_response(exchange_error_body(err), status=err.status, headers=err.headers)


def identity_error_response(status: int, message: str) -> web.Response:
    """The App Service managed identity error body, as captured from the platform:
    ``{"statusCode": 400, "message": "Unable to load the proper Managed Identity.",
    "correlationId": "<uuid>"}`` (/work/shared/reference/exchange-admin-api.md,
    "Corrections found in the 2026-12 audit"). No OAuth ``error`` fields."""
    body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return web.json_response(body, status=status)
