"""A realistic month of one tenant's sign-in log, for the demo and the tests.

What admins find when they look (audit "Sign-in evidence filter", "Usage evidence";
CIPP#5291; msp4msps/Basic-Authentication-Reporting): devices and apps that send with
SMTP AUTH every day, logged as ``Authenticated SMTP`` or as ``SMTP``; people signing
in with browsers and mail apps (other ``clientAppUsed`` values, not SMTP AUTH); the
odd wrong password; and a password spray, one address trying many accounts over SMTP
AUTH within minutes, every attempt failed (``50126``, invalid user name or password).
Only the successful SMTP ones are usage. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sim.graph_signins import sign_in
from sim.tenant import SimMailbox

INVALID_PASSWORD = 50126
SPRAY_IP = "198.51.100.23"
OTHER_APPS = ("Browser", "Mobile Apps and Desktop clients", "Exchange ActiveSync")


def usage_mix(
    now: datetime,
    *,
    basic: Sequence[SimMailbox] = (),
    legacy: Sequence[SimMailbox] = (),
    people: Sequence[SimMailbox] = (),
    sprayed: Sequence[str] = (),
    days: int = 30,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Entries for ``SimServer.add_sign_in``: ``basic`` mailboxes send as
    ``Authenticated SMTP`` and ``legacy`` ones as ``SMTP`` (a few times a day, from
    one office address each, with a failed attempt now and then); ``people`` sign in
    with other client apps; ``sprayed`` accounts are tried once each from SPRAY_IP."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    senders = [(m, "Authenticated SMTP") for m in basic] + [(m, "SMTP") for m in legacy]
    for n, (mailbox, app) in enumerate(senders):
        office = f"203.0.113.{10 + n}"
        for day in range(days):
            for _ in range(rng.randint(0, 3)):
                at = now - timedelta(days=day, minutes=rng.randint(1, 23 * 60))
                out.append(_entry(mailbox, at, office, app))
        failed_at = now - timedelta(days=rng.randint(0, days - 1), minutes=7)
        out.append(_entry(mailbox, failed_at, office, app, error_code=INVALID_PASSWORD))
    for mailbox in people:
        for day in range(0, days, 2):
            at = now - timedelta(days=day, minutes=rng.randint(1, 600))
            out.append(_entry(mailbox, at, f"192.0.2.{rng.randint(2, 250)}", rng.choice(OTHER_APPS)))
    start = now - timedelta(days=2, hours=3)
    for i, user in enumerate(sprayed):
        at = start + timedelta(seconds=17 * i)
        out.append(sign_in(user, at, ip_address=SPRAY_IP, error_code=INVALID_PASSWORD))
    return out


def _entry(mailbox: SimMailbox, at: datetime, ip: str, app: str, *, error_code: int = 0) -> dict[str, Any]:
    return sign_in(
        mailbox.address,
        at,
        ip_address=ip,
        user_id=mailbox.external_directory_object_id,
        client_app=app,
        error_code=error_code,
    )
