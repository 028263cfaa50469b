"""Who still uses SMTP AUTH, joined with what Exchange and the desired state say of
their mailboxes: the ``usage`` report and ``exception suggest``. Pure.

The sign-ins are the evidence remediation's guard reads (shared.adapters.signins: one
reader, one filter), successful SMTP AUTH sign-ins only. An SMTP AUTH sign-in in the
log is Basic auth (its ``clientAppUsed`` says ``Authenticated SMTP`` or ``SMTP``);
OAuth SMTP senders are not known to appear there at all, so an account missing from
the log is not proven idle (docs/basic-auth-retirement.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.core.basic_auth import BasicAuthPolicy
from shared.core.model import Evidence, MailboxException, MailboxSetting, SignInEvidence, SmtpUser
from shared.core.policy import ExceptionIndex

MAX_IPS = 10  # client addresses listed per account; the rest are counted


def user_key(user: str, user_id: str) -> str:
    """One account, whether the log names it by object id or by UPN."""
    return (user_id or user).lower()


def summarise(sign_ins: Iterable[SignInEvidence]) -> tuple[SmtpUser, ...]:
    """Each account's sign-ins summed up, the busiest first."""
    grouped: dict[str, list[SignInEvidence]] = {}
    for s in sign_ins:
        grouped.setdefault(user_key(s.user, s.user_id), []).append(s)
    users = []
    for entries in grouped.values():
        latest = max(entries, key=lambda s: s.at)
        ips = Counter(s.ip_address for s in entries if s.ip_address)
        ranked = [ip for ip, _ in sorted(ips.items(), key=lambda p: (-p[1], p[0]))]
        users.append(
            SmtpUser(
                user=latest.user or next((s.user for s in entries if s.user), ""),
                user_id=latest.user_id,
                sign_ins=len(entries),
                first_seen=min(s.at for s in entries),
                last_seen=latest.at,
                ip_addresses=tuple(ranked[:MAX_IPS]),
                client_apps=tuple(sorted({s.client_app for s in entries if s.client_app})),
                more_ips=max(0, len(ranked) - MAX_IPS),
            )
        )
    return tuple(sorted(users, key=lambda u: (-u.sign_ins, u.user.lower())))


def lookup_identity(user: SmtpUser) -> str:
    """What Get-CASMailbox -Identity is given for an account: its UPN (Identity takes
    a user principal name: Set-CASMailbox.md), else its Entra object id."""
    return user.user or user.user_id


def effective(override: bool | None, org_disabled: bool | None) -> bool | None:
    """SmtpClientAuthenticationDisabled in force for a mailbox (None: not known)."""
    return org_disabled if override is None else override


@dataclass(frozen=True)
class UsageRow:
    """One account that signed in with SMTP AUTH, and its mailbox's state."""

    user: SmtpUser
    mailbox: MailboxSetting | None  # None: no mailbox found (``lookup_problem`` says why)
    lookup_problem: str
    exception: MailboxException | None  # the one that covers it (the latest, if several)
    exception_live: bool
    org_disabled: bool | None

    @property
    def override(self) -> bool | None:
        return self.mailbox.smtp_auth_disabled if self.mailbox else None

    @property
    def effective_disabled(self) -> bool | None:
        return effective(self.override, self.org_disabled) if self.mailbox else None

    @property
    def address(self) -> str:
        return self.mailbox.address if self.mailbox else self.user.user


@dataclass(frozen=True)
class TenantUsage:
    """One tenant's usage report. ``error``: the tenant could not be read at all;
    ``evidence.available`` False: the sign-in logs could not be (never "no users")."""

    tenant_id: str
    domain: str
    days: int
    evidence: Evidence
    org_disabled: bool | None = None
    basic_auth: BasicAuthPolicy | None = None
    rows: tuple[UsageRow, ...] = ()
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and self.evidence.available


def join(
    users: Sequence[SmtpUser],
    mailboxes: Mapping[str, MailboxSetting | str],
    exceptions: Sequence[MailboxException],
    org_disabled: bool | None,
    now: datetime,
) -> tuple[UsageRow, ...]:
    """Each account with its mailbox (``mailboxes`` by lookup_identity: the mailbox, or
    why none was found) and the exception that names it."""
    index = ExceptionIndex(exceptions)
    rows = []
    for user in users:
        found = mailboxes.get(lookup_identity(user), "not looked up")
        mailbox = found if isinstance(found, MailboxSetting) else None
        if mailbox is not None:
            matches = index.matching(mailbox)
        else:  # no mailbox: an exception may still name the address
            matches = index.by_address.get(user.user.lower(), []) + [
                e for e in exceptions if e.mailbox.lower() == user.user.lower() and e.mailbox_guid
            ]
        live = [e for e in matches if e.is_live(now)]
        chosen = max(live or matches, key=lambda e: e.expires) if matches else None
        rows.append(
            UsageRow(
                user=user,
                mailbox=mailbox,
                lookup_problem="" if mailbox is not None else str(found),
                exception=chosen,
                exception_live=bool(live),
                org_disabled=org_disabled,
            )
        )
    return tuple(rows)
