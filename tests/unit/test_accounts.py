"""Sign-ins looked up by account: what each mailbox's linear scan of the log returned,
from one index (a check of 10,000 approved mailboxes against 10,000 accounts in the
logs took minutes of CPU as scans)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from shared.core.accounts import AccountIndex
from shared.core.model import SignInEvidence

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def sign_in(user: str, user_id: str = "", hours: int = 1) -> SignInEvidence:
    return SignInEvidence(user, NOW - timedelta(hours=hours), "203.0.113.10", user_id=user_id)


def test_an_account_is_found_by_upn_or_object_id_once_in_log_order_whatever_the_case():
    log = [
        sign_in("Printer@Contoso.com", hours=1),
        sign_in("", "OID-1", hours=2),  # named by object id only
        sign_in("other@contoso.com", hours=3),
        sign_in("printer@contoso.com", "oid-1", hours=4),  # by both: listed once
    ]
    index = AccountIndex(log)
    assert index.of("printer@contoso.com", "oid-1") == [log[0], log[1], log[3]]
    assert index.of("PRINTER@contoso.com", None) == [log[0], log[3]]
    assert index.of("nobody@contoso.com", "oid-1") == [log[1], log[3]]
    # An account the log names without an object id is never matched by an empty one.
    assert index.of("nobody@contoso.com", "") == [] and index.of("nobody@contoso.com", None) == []


def test_ten_thousand_mailboxes_against_ten_thousand_accounts_take_a_moment():
    log = [sign_in(f"user{i:05d}@contoso.com", f"oid-{i}") for i in range(10_000)]
    started = time.perf_counter()
    index = AccountIndex(log)
    found = [index.of(f"USER{i:05d}@contoso.com", f"oid-{i}") for i in range(10_000)]
    assert time.perf_counter() - started < 2  # as scans: 10^8 comparisons, minutes
    assert all(f == [s] for f, s in zip(found, log, strict=True))
