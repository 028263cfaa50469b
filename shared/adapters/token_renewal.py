"""A bearer token the service stops taking is renewed once, then the request sent again.

azure-core's ``AsyncBearerTokenCredentialPolicy`` caches one token until it nears
expiry. On a 401 with a ``WWW-Authenticate`` challenge it drops that token, but asks
for a new one (and sends the request again) only for a CAE claims challenge
(``error="insufficient_claims"``). Exchange Online refuses a token it no longer takes
(revoked, a clock off, Conditional Access) with 401 and ``WWW-Authenticate: Bearer
..., error="invalid_token"``; asking the credential again would give back the token
it caches, so the scan stopped there.

``RenewingBearerTokenPolicy`` keeps azure-core's CAE handling and adds one case: a
401 that says the token is invalid or expired makes it ask the credential for a token
*past its cache* and send the same request once more. azure-identity's credentials
skip their cache when ``get_token_info`` is given ``claims``
(``ManagedIdentityCredential``, ``ClientAssertionCredential``); the claims sent are
the ones a CAE revocation challenge asks for, a token issued not before now
(learn.microsoft.com, "Claims challenges, claims requests and client capabilities"),
so Entra, where it reads them, asks for nothing more than a new token. A second
refusal of the same request is final: the pipeline records the renewal in the
request's context (``was_renewed``) so the caller can say that the service refused
a fresh token, which is a different problem from a missing role.

Never renewed: 401 "User is not allowed to call <cmdlet>" (the token is good, the
identity's Exchange role lacks the cmdlet: office-docs-powershell#7970), whatever
its challenge says.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest

log = logging.getLogger(__name__)

# The request's context key: set once the token was renewed for that request.
RENEWED = "smtp_auth_guard.token_renewed"
NOT_ALLOWED = "user is not allowed to call"  # the missing-role 401's text
_TOKEN_WORDS = ("invalid", "expired", "not valid", "lifetime validation")
_TOKEN_CODES = frozenset({"invalidauthenticationtoken", "invalid_token", "expiredauthenticationtoken"})
# The error parameter of a Bearer challenge (RFC 6750 section 3), quoted or not.
_CHALLENGE_ERROR = re.compile(r'\bBearer\b.*?\berror\s*=\s*"?([A-Za-z_]+)', re.IGNORECASE | re.DOTALL)


def _body_text(response: Any) -> str:
    try:
        return str(response.text())
    except Exception:  # noqa: BLE001 (a streamed or unreadable body says nothing here)
        return ""


def _says_bad_token(body: str) -> bool:
    """The error body names a token problem: its code, or "token" with an invalid or
    expired word in its text."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, str) and code.lower() in _TOKEN_CODES:
            return True
    text = body.lower()
    return "token" in text and any(word in text for word in _TOKEN_WORDS)


def refuses_token(response: Any) -> bool:
    """A 401 that refuses the bearer token itself (invalid, expired, revoked), by its
    ``WWW-Authenticate`` challenge or its body; never the missing-role 401."""
    if response.status_code != 401:
        return False
    body = _body_text(response)
    if NOT_ALLOWED in body.lower():
        return False
    challenge = _CHALLENGE_ERROR.search(response.headers.get("WWW-Authenticate") or "")
    return (challenge is not None and challenge.group(1).lower() == "invalid_token") or _says_bad_token(body)


def fresh_token_claims(now: float) -> str:
    """The claims of a CAE revocation challenge: a token issued not before ``now``."""
    return json.dumps({"access_token": {"nbf": {"essential": True, "value": str(int(now))}}})


def was_renewed(response: PipelineResponse[Any, Any]) -> bool:
    """Whether the policy renewed the token for the request this answers."""
    return bool(response.context.get(RENEWED))


class RenewingBearerTokenPolicy(AsyncBearerTokenCredentialPolicy[HttpRequest, AsyncHttpResponse]):
    """azure-core's bearer-token policy, which also renews a refused token once per
    request (see the module's text)."""

    async def on_challenge(
        self,
        request: PipelineRequest[HttpRequest],
        response: PipelineResponse[HttpRequest, AsyncHttpResponse],
    ) -> bool:
        if await super().on_challenge(request, response):
            return True  # a CAE claims challenge, answered by azure-core
        if request.context.get(RENEWED) or not refuses_token(response.http_response):
            return False
        request.context[RENEWED] = True
        log.info("the service refused the bearer token; asking the credential for a new one, once")
        await self.authorize_request(request, *self._scopes, claims=fresh_token_claims(time.time()))
        return True
