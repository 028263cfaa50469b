"""Each account's SMTP AUTH sign-ins summed up (the usage report's rows), from the
entries the evidence reader reads: counts, first and last seen, the addresses most
used first and capped, the client apps that tell Basic auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.adapters.signins import read_page
from shared.core.model import SignInEvidence
from shared.core.smtp_usage import MAX_IPS, summarise

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def s(
    user: str, hours: int, ip: str = "192.0.2.1", app: str = "Authenticated SMTP", uid: str = ""
) -> SignInEvidence:
    return SignInEvidence(user, NOW - timedelta(hours=hours), ip, user_id=uid, client_app=app)


def test_one_row_per_account_busiest_first() -> None:
    users = summarise(
        [
            s("scan@contoso.com", 1, uid="u1"),
            s("SCAN@contoso.com", 50, "192.0.2.9", uid="u1"),  # the same account by object id
            s("scan@contoso.com", 3, uid="u1"),
            s("erp@contoso.com", 2, app="SMTP"),
        ]
    )
    scan, erp = users
    assert (scan.user, scan.sign_ins, scan.first_seen, scan.last_seen) == (
        "scan@contoso.com",
        3,
        NOW - timedelta(hours=50),
        NOW - timedelta(hours=1),
    )
    assert scan.ip_addresses == ("192.0.2.1", "192.0.2.9") and scan.basic
    assert (erp.sign_ins, erp.client_apps, erp.basic) == (1, ("SMTP",), True)


def test_addresses_are_capped_and_counted() -> None:
    entries = [s("app@contoso.com", i, f"198.51.100.{i}") for i in range(MAX_IPS + 5)]
    entries += [s("app@contoso.com", 1, "203.0.113.5")] * 3
    (user,) = summarise(entries)
    assert user.ip_addresses[0] == "203.0.113.5" and len(user.ip_addresses) == MAX_IPS
    assert user.more_ips == 6


def test_the_reader_keeps_the_client_app() -> None:
    raw = (
        b'{"value": [{"userPrincipalName": "scan@contoso.com", "createdDateTime": "2026-11-30T08:15:41Z",'
        b' "clientAppUsed": "SMTP"}]}'
    )
    (entry,), _ = read_page(raw)
    assert entry.client_app == "SMTP"
