"""Errors of the Exchange Online admin API, typed like azure-core's own.

A not-found answer is also a ``ResourceNotFoundError`` and a refusal (401/403) also a
``ClientAuthenticationError``, so code written against azure-core catches them the
usual way. A failure to get a token at all is a different thing, ``ExchangeTokenError``:
the request never reached Exchange.

The useful text of an error answer is in ``error.details[0].message``, then
``innererror.internalException.message``, then ``error.message`` (team reference,
"Errors").
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

CONCURRENCY_MESSAGE = "maximum number of concurrent requests"


class ExchangeError(HttpResponseError):
    """Exchange answered with an error; ``message`` is the service's own text."""

    def __init__(self, message: str, *, response: Any = None, cmdlet: str = "", tenant: str = ""):
        super().__init__(message=message, response=response)
        # azure-core would put the OData error.message first, which for Exchange is
        # a generic "Access denied"; keep the specific text we extracted.
        self.message = message
        self.cmdlet = cmdlet
        self.tenant = tenant

    def __str__(self) -> str:
        return self.message


class ExchangePermissionError(ExchangeError, ClientAuthenticationError):
    """401/403 from Exchange: the identity lacks the app role or an Exchange role."""


class ExchangeNotFoundError(ExchangeError, ResourceNotFoundError):
    """404: unknown tenant, or an identity that does not exist (or not yet)."""


class ExchangeThrottledError(ExchangeError):
    """Still throttled after every retry."""


class ExchangeProtocolError(ExchangeError):
    """A 2xx answer that is not the documented shape; never read as data."""


class ExchangeTokenError(ClientAuthenticationError):
    """The credential could not give a token for Exchange Online, so nothing was sent;
    azure-identity's own error is the ``__cause__``."""

    def __init__(self, tenant: str, cause: Exception) -> None:
        text = str(getattr(cause, "message", None) or cause or type(cause).__name__).strip()
        super().__init__(message=text)
        self.message = text
        self.tenant = tenant

    def __str__(self) -> str:
        return self.message


def error_message(status: int, body: bytes | str | None) -> str:
    """The useful text of an Exchange error answer, most specific first."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        error = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        error = None
    if isinstance(error, dict):
        details = error.get("details") or []
        candidates = [
            details[0].get("message") if details and isinstance(details[0], dict) else None,
            ((error.get("innererror") or {}).get("internalException") or {}).get("message"),
            error.get("message"),
        ]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.strip():
                return candidate.strip()
    if text.strip():
        return text.strip()[:500]
    if status == 403:
        return (
            "HTTP 403 with an empty body: the identity is missing the Exchange.ManageAsApp "
            "app role or an Exchange role (Global Reader to read, Exchange Administrator to change)"
        )
    return f"HTTP {status} with an empty body"


def raise_for(response: Any, cmdlet: str, tenant: str) -> None:
    """Raise the typed error for a non-2xx answer, with the service's text and the
    request's ``client-request-id`` (what support asks for)."""
    status = response.status_code
    message = error_message(status, response.body())
    request_id = response.request.headers.get("client-request-id", "")
    full = f"{cmdlet} for tenant {tenant} failed (HTTP {status}): {message}"
    if request_id:
        full += f" [client-request-id {request_id}]"
    if status in (401, 403):
        cls: type[ExchangeError] = ExchangePermissionError
    elif status == 404:
        cls = ExchangeNotFoundError
    elif status in (429, 503, 504) or CONCURRENCY_MESSAGE in message.lower():
        cls = ExchangeThrottledError
    else:
        cls = ExchangeError
    raise cls(full, response=response, cmdlet=cmdlet, tenant=tenant)
