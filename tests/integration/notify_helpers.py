"""Helpers for notification tests: a clock the test moves (retry schedules and
reminders without waiting; pass it to helpers.services()), policies with recipients,
and what a card says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.model import TenantPolicy
from tests.cards import card_strings

TEAMS_SETTING = "SMTPAUTH_TEST_TEAMS_WEBHOOK"
SENDER = "smtp-guard@contoso.com"
RECIPIENTS = ("secops@contoso.com", "it@contoso.com")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def start_clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


def notified_policy(tenant_id: str, domain: str, **kw: Any) -> TenantPolicy:
    return TenantPolicy(tenant_id, domain, notify_email=RECIPIENTS, notify_teams_setting=TEAMS_SETTING, **kw)


def card_text(card: dict[str, Any]) -> str:
    """What a person reads on the card: its text runs, exactly as posted (they are not
    Markdown, so nothing is escaped)."""
    return "\n".join(card_strings(card))


def raw_card(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)
