"""Error bodies in the shapes the real services use.

Exchange admin API shape (docs/simulator.md (Exchange admin API facts, with their public sources), "Errors",
and its "Corrections found in the 2026-12 audit", "Error bodies"): a cmdlet's error is
`{"error": {"code": "NotFound", "message": "Error executing cmdlet", "details":
[{"code": "Context", "target": "", "message": "Ex6F9304|<exception type>|<text>"}],
"innererror": {"message", "type": "...ODataServiceException"}}}` with no
`internalException` (Microsoft365DSC#2998, #4401; ExoHelper `Get-ExoException.ps1`).
A missing Exchange role is 401 with the text in `error.message` and no details:
`{"error": {"code": "Unauthorized", "message": "User is not allowed to call
Get-Mailbox", "innererror": {...}}}` (office-docs-powershell#7970). Errors of the
transport itself (tenant, anchor, body) keep a plain `details[0].message`: no
captured body shows them (assumption). `error.message` stays a generic summary, so a
client that reads the wrong field shows a vague message in tests too.
"""

from __future__ import annotations

import json
import uuid
import zlib
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
        details: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.summary = summary
        self.exception_type = exception_type
        self.headers = dict(headers or {})
        self.details = details  # False: the text is error.message itself (the 401 role answer)


ODATA_EXCEPTION = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
# The one code seen for real (a ManagementObjectNotFoundException, Microsoft365DSC#2998);
# other types get a stable made-up one of the same form.
_KNOWN_CODES = {"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException": "6F9304"}


def error_code(exception_type: str) -> str:
    """``Ex<hex>``: the prefix of a cmdlet error's message."""
    code = _KNOWN_CODES.get(exception_type) or f"{zlib.crc32(exception_type.encode()) & 0xFFFFFF:06X}"
    return f"Ex{code}"


def cmdlet_error_message(exception_type: str, text: str) -> str:
    return f"{error_code(exception_type)}|{exception_type}|{text}"


def exchange_error_body(err: ExchangeError) -> dict[str, Any]:
    inner = {"message": err.summary, "type": ODATA_EXCEPTION}
    if not err.details:
        return {
            "error": {
                "code": err.code,
                "message": err.message,
                "innererror": {**inner, "message": err.message},
            }
        }
    if err.exception_type == ODATA_EXCEPTION:
        detail = {"code": err.exception_type.rsplit(".", 1)[-1], "target": "", "message": err.message}
    else:
        detail = {
            "code": "Context",
            "target": "",
            "message": cmdlet_error_message(err.exception_type, err.message),
        }
    return {"error": {"code": err.code, "message": err.summary, "details": [detail], "innererror": inner}}


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
    "correlationId": "<uuid>"}`` (docs/simulator.md (Exchange admin API facts, with their public sources),
    "Corrections found in the 2026-12 audit"). No OAuth ``error`` fields."""
    body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return web.json_response(body, status=status)
