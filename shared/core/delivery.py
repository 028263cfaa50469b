"""The nouns of delivering a notification: which sequence it belongs to, where a copy
goes, what state a copy is in, and the error a sender raises.

Plain data shared by the outbox store, the senders and the notifier, so none of
them has to import another; the decisions (targets, keys, backoff) are in
shared/notify/outbox_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

# A claimed row is invisible to other runs this long: enough for one send with its
# timeout; a run that died mid-send has its row picked up again after it.
LEASE = timedelta(minutes=5)


class Stream(StrEnum):
    """Separate sequences per tenant: a digest never counts as the last alert."""

    EVENTS = "events"
    DIGEST = "digest"


class Channel(StrEnum):
    TEAMS = "teams"
    EMAIL = "email"


class State(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class Target:
    """Where one copy goes: the NAME of the webhook app setting (never the URL), or
    the recipients."""

    channel: Channel
    address: str
    # An operator's copy (SMTPAUTH_OPS_*), kept apart from the tenant's own: the two
    # may use the same channel in one notification.
    ops: bool = False


class DeliveryError(Exception):
    """A send that did not go through. The message never holds a secret (no webhook
    URL, no token); ``retry_after`` is the service's Retry-After in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent  # the same request can never succeed (e.g. 400)
        # No answer after the request went out: it may have arrived, so a retry may be
        # a second copy (at least once: a lost alert is worse than a repeated one).
        self.maybe_sent = maybe_sent
