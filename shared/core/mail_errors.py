"""Which Graph sendMail refusals will never succeed, and what fixes each. Pure.

The sender (SMTPAUTH_MAIL_SENDER) and the identity's grant are the same for every
message, so these fail every retry: give up at once and say the fix, rather than
try for 16 hours. Sources: docs/simulator.md (Teams and mail facts, with their public sources), "Corrections
found in the 2026-12 audit" (microsoft-graph-docs #5143, #7580,
microsoft-graph-docs-contrib#405, #8731).
"""

from __future__ import annotations

from shared.core.grant_delay import with_grant_delay

SENDER_SETTING = "SMTPAUTH_MAIL_SENDER"
NOT_A_MAILBOX = (
    f"{SENDER_SETTING} is not a licensed mailbox: set it to a user mailbox with an Exchange "
    "Online licence or a shared mailbox in the identity's tenant"
)
NOT_GRANTED = (
    "Mail.Send is not granted: give the function app's identity the Microsoft Graph application "
    f"permission Mail.Send, and let its application access policy or RBAC for Applications scope "
    f"include {SENDER_SETTING} (docs/permissions.md)"
)

# Graph's codes for a sender that is not an Exchange Online mailbox (always 404).
_NO_SENDER = {
    "ErrorInvalidUser": "no such user",
    "ResourceNotFound": "no such user",
    "MailboxNotEnabledForRESTAPI": "a user without an Exchange Online mailbox (no licence, a guest, on-premises)",
}


def fix_for(status: int | None, code: str) -> str | None:
    """What fixes a sendMail refusal that depends on the setup, not on the message."""
    if status == 404 and code in _NO_SENDER:
        return f"{NOT_A_MAILBOX} (Graph says: {_NO_SENDER[code]})"
    if status == 403 and code == "ErrorAccessDenied":
        # A grant made just now may not be in the identity's cached token yet.
        return with_grant_delay(f"{NOT_GRANTED}.", 403)
    return None


def never_succeeds(status: int | None, code: str) -> bool:
    """True when retrying the same send cannot help: a refusal of the setup (above),
    or a 400 (the request itself)."""
    return status == 400 or fix_for(status, code) is not None
