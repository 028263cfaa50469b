"""Errors of the Exchange Online admin API, typed like azure-core's own.

A not-found answer is also a ``ResourceNotFoundError`` and a refusal (401/403) also a
``ClientAuthenticationError``, so code written against azure-core catches them the
usual way. A failure to get a token at all is a different thing, ``ExchangeTokenError``:
the request never reached Exchange.

The useful text of an error answer is in ``error.details[0].message``, then
``innererror.internalException.message``, then ``error.message`` (team reference,
"Errors"). A cmdlet's error there reads ``Ex<hex>|<exception type>|<text>``
(Microsoft365DSC#2998, #4401; GreyCorbel/ExoHelper ``Get-ExoException.ps1`` splits it
on ``|``): people read ``<text>``; the exception type is kept on the error and decides
its class, whatever the HTTP status says.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

CONCURRENCY_MESSAGE = "maximum number of concurrent requests"
# Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation ...
_CMDLET_ERROR = re.compile(r"^\s*Ex[0-9A-Fa-f]+\|([^|]*)\|(.*)$", re.DOTALL)
# Exception types that mean "no such object" (the short name, any namespace).
NOT_FOUND_TYPES = frozenset({"ManagementObjectNotFoundException"})
# 401 {"error": {"code": "Unauthorized", "message": "User is not allowed to call Get-Mailbox"}}
# (office-docs-powershell#7970: app role consented, Exchange role not right).
_NOT_ALLOWED = "user is not allowed to call"


class ExchangeError(HttpResponseError):
    """Exchange answered with an error; ``message`` is the text people read,
    ``exception_type`` the cmdlet's .NET exception type when the answer named one."""

    def __init__(
        self,
        message: str,
        *,
        response: Any = None,
        cmdlet: str = "",
        tenant: str = "",
        exception_type: str = "",
    ):
        super().__init__(message=message, response=response)
        # azure-core would put the OData error.message first, which for Exchange is
        # a generic "Error executing cmdlet"; keep the specific text we extracted.
        self.message = message
        self.cmdlet = cmdlet
        self.tenant = tenant
        self.exception_type = exception_type

    def __str__(self) -> str:
        return self.message


class ExchangePermissionError(ExchangeError, ClientAuthenticationError):
    """401/403 from Exchange: the identity lacks the app role or an Exchange role."""


class ExchangeTokenRefusedError(ExchangePermissionError):
    """401 to a token renewed for the request: Exchange refused the token it had and a
    new one from the credential, so the token itself is not taken, not a role missing."""


class ExchangeNotFoundError(ExchangeError, ResourceNotFoundError):
    """Not found: unknown tenant, or an identity that does not exist (or not yet)."""


class ExchangeThrottledError(ExchangeError):
    """Still throttled after every retry."""


class ExchangeProtocolError(ExchangeError):
    """A 2xx answer that is not the documented shape; never read as data."""


class ExchangePartialError(ExchangeError):
    """A 2xx answer that carries ``@adminapi.errors`` (non-terminating cmdlet errors):
    what came with it is incomplete, so it is never read as data."""


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


@dataclass(frozen=True)
class ErrorText:
    """What an error answer says: the text people read, and the exception type."""

    text: str
    exception_type: str = ""

    @property
    def short_type(self) -> str:
        return self.exception_type.rsplit(".", 1)[-1]

    @property
    def not_found(self) -> bool:
        return self.short_type in NOT_FOUND_TYPES


def split_cmdlet_error(message: str) -> ErrorText:
    """``Ex<hex>|<type>|<text>`` -> (text, type); any other message is all text."""
    match = _CMDLET_ERROR.match(message)
    if match is None:
        return ErrorText(message.strip())
    text = match.group(2).strip()
    return ErrorText(text or message.strip(), match.group(1).strip())


def error_text(status: int, body: bytes | str | None) -> ErrorText:
    """The useful text of an Exchange error answer, most specific first."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        error = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        error = None
    if isinstance(error, dict):
        details = error.get("details") or []
        inner = error.get("innererror")
        internal = inner.get("internalException") if isinstance(inner, dict) else None
        candidates = [
            details[0].get("message")
            if isinstance(details, list) and details and isinstance(details[0], dict)
            else None,
            internal.get("message") if isinstance(internal, dict) else None,
            error.get("message"),
        ]
        for candidate in candidates:
            if isinstance(candidate, str) and candidate.strip():
                return split_cmdlet_error(candidate)
    if text.strip():
        return ErrorText(text.strip()[:500])
    return ErrorText(f"HTTP {status} with an empty body")


def error_message(status: int, body: bytes | str | None) -> str:
    """The text people read of an Exchange error answer."""
    return error_text(status, body).text


def adminapi_errors_text(errors: Any) -> str:
    """The text of a 2xx body's ``@adminapi.errors``: strings or objects with a
    message (the shape is not documented), each in the ``Ex...|type|text`` form or not."""
    items = errors if isinstance(errors, list) else [errors]
    texts = []
    for item in items:
        if isinstance(item, dict):
            raw = next(
                (item[k] for k in ("message", "Message", "ErrorMessage") if isinstance(item.get(k), str)),
                json.dumps(item),
            )
        else:
            raw = str(item)
        texts.append(split_cmdlet_error(raw).text)
    return "; ".join(t for t in texts if t) or "an unspecified error"


def permission_hint(status: int, text: str, cmdlet: str) -> str:
    """What to grant, in words an admin can act on. The evidence: a 401 "User is not
    allowed to call X" came from an app that had Exchange.ManageAsApp but not the
    right Exchange role (office-docs-powershell#7970); one public project reports 401
    with neither grant and 403 with the app role only (unconfirmed by Microsoft). So
    each message names the grant its answer points to, then the other one to check."""
    what = cmdlet if cmdlet and not cmdlet.startswith("$") else "these cmdlets"
    if status == 401 and _NOT_ALLOWED in text.lower():
        return (
            f"Missing grant: an Exchange role that allows {what}. Exchange knows the identity "
            "but its role does not include the cmdlet: assign one (to check: the Global "
            "Reader Entra role, or a role group with the View-Only Configuration and View-Only "
            "Recipients roles and the identity's service principal as a member; to remediate: "
            "Exchange Administrator, or a role group that also has Organization Transport "
            "Settings and Mail Recipients). RBAC for Applications "
            "roles cover mailbox data, not these cmdlets. Check the Exchange.ManageAsApp app "
            "role too: a 401 is also reported when both are missing."
        )
    if status == 401:
        return (
            "Exchange did not accept the identity's token: check that it has the "
            "Exchange.ManageAsApp app role on Office 365 Exchange Online "
            "(00000002-0000-0ff1-ce00-000000000000), with admin consent."
        )
    # 403: the token carried the app role (without it the public report sees 401), so
    # the missing piece is the directory or Exchange role.
    return (
        f"Missing grant: most likely an Exchange role that allows {what} (Global Reader or "
        "a role group with View-Only Configuration and View-Only Recipients to read, Exchange "
        "Administrator to change): one public "
        "report sees 403 when the identity has the Exchange.ManageAsApp app role but no "
        "role. If a role is assigned, check that app role on Office 365 Exchange Online "
        "(00000002-0000-0ff1-ce00-000000000000) and its admin consent."
    )


# What refuses a token that was just issued: the questions to ask, in the order they
# are most often the answer for an unattended identity.
REFUSED_AGAIN_HINT = (
    "Exchange Online refused a fresh token too: the identity was asked for a new token "
    "(not the cached one) and the request sent once more, and that token was refused as "
    "well, so the token itself is not accepted (this is not a missing Exchange role). "
    "Check: the clock of the machine this runs on (token times are checked against it); "
    "whether admin consent or the Exchange.ManageAsApp app role of the identity was "
    "revoked or removed (for a customer tenant: that tenant's consent); whether a "
    "Conditional Access policy for workload identities blocks the identity; and that "
    "the token is for this tenant."
)


# Raised only once the retry policy has given up: say so, and what follows. (Not
# "nothing was changed": a write that got a 504 may have been made.)
THROTTLED_HINT = (
    "Exchange Online was still throttling or unavailable after every retry; the next "
    "check tries again. If it persists, look for other tools using the Exchange admin "
    "API in this tenant: they share its limits."
)


def raise_for(response: Any, cmdlet: str, tenant: str, *, token_renewed: bool = False) -> None:
    """Raise the typed error for a non-2xx answer, with the service's text and the
    request's ``client-request-id`` (what support asks for). ``token_renewed``: the
    answer refused a token renewed for this request (token_renewal.refuses_token)."""
    status = response.status_code
    said = error_text(status, response.body())
    message = said.text
    request_id = response.request.headers.get("client-request-id", "")
    full = f"{cmdlet} for tenant {tenant} failed (HTTP {status}): {message}"
    cls: type[ExchangeError]
    if token_renewed:
        cls = ExchangeTokenRefusedError
        full = f"{full.rstrip('.')}. {REFUSED_AGAIN_HINT}"
    elif said.not_found:
        cls = ExchangeNotFoundError  # the exception type decides, whatever the status
    elif status in (401, 403):
        cls = ExchangePermissionError
        full = f"{full.rstrip('.')}. {permission_hint(status, message, cmdlet)}"
    elif status == 404:
        cls = ExchangeNotFoundError
    elif status in (429, 503, 504) or CONCURRENCY_MESSAGE in message.lower():
        cls = ExchangeThrottledError
        full = f"{full.rstrip('.')}. {THROTTLED_HINT}"
    else:
        cls = ExchangeError
    if request_id:
        full += f" [client-request-id {request_id}]"
    raise cls(full, response=response, cmdlet=cmdlet, tenant=tenant, exception_type=said.exception_type)
