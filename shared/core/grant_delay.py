"""Why a refusal can outlast its fix: a managed identity's tokens are cached.

Azure caches a managed identity's token per resource for hours, and a role or app
permission granted after that token was issued is not in it: it can take up to about
8 hours to take effect (MicrosoftDocs/azure-docs ``overview-managed-identity.md``;
docs/simulator.md (Exchange admin API facts, with their public sources), "Corrections found in the 2026-12
audit"). An admin who has just granted Exchange.ManageAsApp or a role and still sees
401/403 should hear that before they start changing the right grants back.
"""

from __future__ import annotations

REFUSED = frozenset({401, 403})
GRANT_DELAY = (
    "A role or permission granted recently can take up to about 8 hours to reach a "
    "managed identity's cached token, so a grant made just now may not work yet."
)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed call: the error's own, else that of the error that
    caused it (a token request refused by the identity endpoint, wrapped)."""
    for err in (exc, exc.__cause__):
        status = getattr(err, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def with_grant_delay(text: str, status: int | None) -> str:
    """``text``, plus the grant-delay sentence when ``status`` is a refusal (401/403)."""
    if status not in REFUSED or GRANT_DELAY in text:
        return text
    return f"{text.rstrip()} {GRANT_DELAY}" if text.strip() else GRANT_DELAY
