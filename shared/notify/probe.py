"""The small card ``teams test`` posts to check a tenant's webhook. Pure.

It says what it is, for which tenant, and carries a short id the admin can look for
in the channel: a Workflows webhook answers 202 before its flow runs, so only the
channel shows whether a card arrived.
"""

from __future__ import annotations

from datetime import datetime

from shared.notify.message import Message, Tone
from shared.notify.text import PRODUCT, clean, when

TITLE = f"{PRODUCT} test message"


def compose_probe(tenant_id: str, name: str, setting: str, now: datetime, probe_id: str) -> Message:
    tenant = clean(name if name == tenant_id else f"{name} ({tenant_id})")
    return Message(
        title=TITLE,
        summary=clean(f"Test {probe_id}: alerts for {name} reach this channel."),
        tone=Tone.GOOD,
        facts=(
            ("Tenant", tenant),
            ("Webhook app setting", clean(setting)),
            ("Sent", when(now)),
            ("Test id", clean(probe_id)),
        ),
        footer=clean(f"{PRODUCT} · sent by the teams test command; nothing needs doing"),
    )
