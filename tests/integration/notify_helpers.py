"""Helpers for notification tests: the check and the notifier on the test's own
tables, with a clock the test moves (retry schedules and reminders without waiting)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.credentials import managed_identity
from shared.core.model import CheckResult, TenantPolicy
from shared.notify.dispatch import Delivery, Notifier, NotifyConfig
from shared.shell.engine import Services, check_tenants
from shared.shell.runtime import open_notifier, open_services
from shared.shell.settings import Settings
from tests.cards import card_strings

from .helpers import FAST_VERIFY

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


@asynccontextmanager
async def stack(
    clock: Clock | None = None, config: NotifyConfig | None = None
) -> AsyncIterator[tuple[Services, Notifier]]:
    """Services and notifier as scheduled_check builds them, sharing one clock."""
    settings = Settings.from_env()
    async with (
        managed_identity(None) as credential,
        open_services(settings, credential, verify=FAST_VERIFY) as svc,
        open_notifier(settings, credential, config=config) as notifier,
    ):
        if clock is not None:
            svc.clock = clock
            notifier.clock = clock
        yield svc, notifier


async def cycle(svc: Services, notifier: Notifier) -> tuple[list[CheckResult], Delivery]:
    """One scheduled run: check, queue, deliver (what shared.shell.jobs.scheduled_check does)."""
    results = await check_tenants(svc)
    await notifier.queue_results(results, svc.history)
    return results, await notifier.deliver(r.tenant_id for r in results)


def card_text(card: dict[str, Any]) -> str:
    """What a person reads on the card: TextBlocks and facts, Markdown escapes undone."""
    return re.sub(r"\\(.)", r"\1", "\n".join(card_strings(card)))


def raw_card(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)
