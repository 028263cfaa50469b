"""Basic authentication for SMTP AUTH: when Microsoft switches it off, what the
organization's authentication policy says about it, and where senders can move. Pure.

The date is one constant with its source. MC786329 (timeline updated 2026-01-27;
Exchange Team blog "Updated Exchange Online SMTP AUTH Basic Authentication
Deprecation Timeline"): at the end of December 2026 Basic auth for SMTP AUTH is
turned off by default for existing tenants (admins can turn it back on); the final
removal date is to be announced in the second half of 2027. OAuth SMTP AUTH stays,
and ``SmtpClientAuthenticationDisabled`` governs SMTP AUTH whatever the method.

The other switch: an Exchange Online authentication policy's ``AllowBasicAuthSmtp``
(``Get-AuthenticationPolicy``) governs Basic SMTP AUTH only. The organization's
default policy (``Get-OrganizationConfig`` -> ``DefaultAuthenticationPolicy``) applies
to every user without a policy of their own (``Get-User`` -> ``AuthenticationPolicy``,
not read: that would be a per-mailbox scan). No default policy means no policy blocks
Basic SMTP AUTH; security defaults and Conditional Access legacy-auth blocks may still
stop it, and the product cannot see those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The last day Basic SMTP AUTH works by default (MC786329: "end of December 2026").
BASIC_AUTH_OFF = date(2026, 12, 31)
BASIC_AUTH_OFF_SOURCE = "MC786329, timeline updated 2026-01-27"
BASIC_AUTH_OFF_TEXT = "the end of December 2026"

# Where a printer, scanner or app can move, each with Microsoft's page on it.
ALTERNATIVES: tuple[tuple[str, str], ...] = (
    (
        "OAuth SMTP AUTH (XOAUTH2)",
        (
            "https://learn.microsoft.com/exchange/client-developer/legacy-protocols/"
            "how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth"
        ),
    ),
    (
        "High Volume Email, for internal recipients only",
        "https://learn.microsoft.com/exchange/mail-flow-best-practices/high-volume-mails-m365",
    ),
    (
        "an SMTP relay connector (authenticated by IP address or certificate)",
        (
            "https://learn.microsoft.com/exchange/mail-flow-best-practices/"
            "how-to-set-up-a-multifunction-device-or-application-to-send-email-using-microsoft-365-or-office-365"
        ),
    ),
)

# The clientAppUsed values SMTP AUTH sign-ins are logged with. Graph's signIn resource
# lists them among the legacy (Basic authentication) clients; an OAuth SMTP session is
# not known to appear as an SMTP sign-in at all (audit, 2026-12), so one of these is Basic.
BASIC_SMTP_CLIENT_APPS = ("Authenticated SMTP", "SMTP")


def auth_protocol(client_app: str) -> str:
    """What a sign-in's ``clientAppUsed`` tells of its authentication: "basic" for
    the SMTP AUTH client apps, "" (not told) for anything else."""
    return "basic" if client_app in BASIC_SMTP_CLIENT_APPS else ""


def what_to_do() -> str:
    """The sentence every message about Basic SMTP AUTH ends with."""
    options = "; ".join(f"{name} ({url})" for name, url in ALTERNATIVES)
    return f"Move the device or app to one of: {options}."


@dataclass(frozen=True)
class BasicAuthPolicy:
    """What the organization's default authentication policy says about Basic SMTP AUTH.

    ``read`` False: the policy could not be read (``problem`` says why): unknown, and
    never a reason for the check itself to fail. ``default_policy`` None: the
    organization has no default policy. ``allow_smtp``: its ``AllowBasicAuthSmtp``
    (True when there is no default policy: none blocks it)."""

    read: bool
    default_policy: str | None = None
    allow_smtp: bool | None = None
    problem: str = ""

    @classmethod
    def unknown(cls, problem: str) -> BasicAuthPolicy:
        return cls(False, problem=problem)

    @property
    def state(self) -> str:
        """ "allowed", "blocked" or "unknown": what a report says in one word."""
        if not self.read or self.allow_smtp is None:
            return "unknown"
        return "allowed" if self.allow_smtp else "blocked"

    def org_wide(self, org_smtp_auth_disabled: bool | None) -> bool | None:
        """Whether Basic SMTP AUTH is possible for every mailbox that follows the
        organization: the org switch lets SMTP AUTH in and no default policy stops
        Basic. None: not known."""
        if org_smtp_auth_disabled is True or self.allow_smtp is False:
            return False
        if org_smtp_auth_disabled is None or not self.read or self.allow_smtp is None:
            return None
        return True

    def describe(self) -> str:
        """One line for a report, a card or a mail (the policy name is tenant text:
        the caller cleans it)."""
        if not self.read:
            return f"unknown: the authentication policy could not be read ({self.problem})"
        if self.default_policy is None:
            return (
                "allowed: no default authentication policy blocks it (security defaults or "
                f"Conditional Access may; Microsoft turns it off by default at {BASIC_AUTH_OFF_TEXT})"
            )
        verdict = "allowed" if self.allow_smtp else "blocked"
        return f"{verdict} by the default authentication policy '{self.default_policy}' (AllowBasicAuthSmtp)"

    def summary(self, org_smtp_auth_disabled: bool | None) -> str:
        """describe(), and whether that opens Basic SMTP AUTH to the whole organization."""
        if self.org_wide(org_smtp_auth_disabled):
            return self.describe() + "; possible org-wide, the organization switch lets SMTP AUTH in"
        return self.describe()
