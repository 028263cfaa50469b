"""The outbox's decisions: where a notification goes, its idempotency key, and when a
failed send is tried again. Pure; the table I/O is shared/store/outbox.py, the
nouns (streams, channels, targets, states) are in shared/core/delivery.py.

Every notification is written to the outbox before it is sent and marked sent
after, so a crash, a webhook answering 500, Graph throttling or a timeout never
loses it: later runs try again on this schedule, up to the attempt limit, after
which it is dead and reported in the next message that gets through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from shared.core.delivery import Channel, Stream, Target
from shared.core.model import Recipients, TenantPolicy
from shared.notify.events import Event, EventKind

# After the n-th failed attempt wait FIRST * 2**(n-1), at most MAX (and never less
# than the service's Retry-After). With runs every 15 minutes and 8 attempts, a send
# is given up after about 16 hours.
BACKOFF_FIRST = timedelta(minutes=10)
BACKOFF_MAX = timedelta(hours=6)


def targets(policy: TenantPolicy | Recipients | None) -> tuple[Target, ...]:
    """Where a tenant's messages go: its policy's recipients, or (its row broken) the
    recipients of that row that parsed."""
    if policy is None:
        return ()
    out = []
    if policy.notify_teams_setting:
        out.append(Target(Channel.TEAMS, policy.notify_teams_setting))
    if policy.notify_email:
        out.append(Target(Channel.EMAIL, ";".join(policy.notify_email)))
    return tuple(out)


def ops_targets(emails: Sequence[str], teams_setting: str | None) -> tuple[Target, ...]:
    """The operators' copies (SMTPAUTH_OPS_EMAIL, SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING)."""
    out = []
    if teams_setting:
        out.append(Target(Channel.TEAMS, teams_setting, ops=True))
    if emails:
        out.append(Target(Channel.EMAIL, ";".join(emails), ops=True))
    return tuple(out)


def tells_ops(events: Iterable[Event]) -> bool:
    """Operators hear that a tenant could not be checked (a malformed desired state
    included), the reminders while it stays so, and that checks work again (or they
    would chase a problem already gone); nothing else."""
    return any(e.error is not None or e.kind is EventKind.RECOVERED for e in events)


def with_ops(own: Sequence[Target], ops: Sequence[Target]) -> tuple[Target, ...]:
    """The tenant's copies plus the operators', without telling anyone twice: an
    address or webhook the tenant's copy already reaches is left out of the ops copy."""
    out = list(own)
    reached = {a.lower() for t in own if t.channel is Channel.EMAIL for a in t.address.split(";")}
    hooks = {t.address for t in own if t.channel is Channel.TEAMS}
    for target in ops:
        if target.channel is Channel.TEAMS:
            if target.address not in hooks:
                out.append(target)
            continue
        fresh = [a for a in target.address.split(";") if a and a.lower() not in reached]
        if fresh:
            out.append(replace(target, address=";".join(fresh)))
    return tuple(out)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    if attempts < 1:
        return timedelta(0)
    factor: int = 2 ** min(attempts - 1, 20)  # int ** int is typed Any: a negative power is a float
    return min(BACKOFF_FIRST * factor, BACKOFF_MAX)


def next_attempt(attempts: int, now: datetime, retry_after: float | None = None) -> datetime:
    wait = backoff(attempts)
    if retry_after is not None and retry_after > 0:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + wait


def notification_key(
    stream: Stream, tenant: str, follows: int | str | None, identities: Iterable[str]
) -> str:
    """The idempotency key of one notification.

    Made of the tenant, the stream, the events it carries (each event's identity:
    kind plus the finding's fingerprint or the action) and, for alerts, what it
    follows: the history run the change was computed against (or, without one, the
    sequence number of the notification before). Two overlapping runs that saw the same
    change derive the same key and the outbox keeps one; the same change happening
    again later (drift reopened after a fix) follows a newer notification, so it
    gets a new key and is told again."""
    text = "\n".join([str(stream), tenant.lower(), str(follows), *sorted(set(identities))])
    return hashlib.sha256(text.encode()).hexdigest()[:40]
