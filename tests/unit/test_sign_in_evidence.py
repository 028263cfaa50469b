"""The evidence query and the reading of a sign-in page (pure parts of the reader)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.adapters.signins import SignInPageError, read_page, sign_in_filter
from sim.graph_filter import matches, parse_filter
from sim.graph_signins import sign_in

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_filter_asks_for_both_smtp_client_apps() -> None:
    assert sign_in_filter(NOW, 30) == (
        "(clientAppUsed eq 'Authenticated SMTP' or clientAppUsed eq 'SMTP') "
        "and status/errorCode eq 0 and createdDateTime ge 2026-11-01T09:00:00Z"
    )


@pytest.mark.parametrize(
    ("entry", "counts"),
    [
        (sign_in("a@contoso.com", NOW, client_app="Authenticated SMTP"), True),
        (sign_in("a@contoso.com", NOW, client_app="SMTP"), True),
        (sign_in("a@contoso.com", NOW, client_app="SMTP", error_code=50126), False),  # a spray
        (sign_in("a@contoso.com", NOW, client_app="Exchange ActiveSync"), False),
        (sign_in("a@contoso.com", datetime(2026, 10, 1, tzinfo=UTC), client_app="SMTP"), False),
    ],
)
def test_the_filter_means_that_with_odata_precedence(entry: dict, counts: bool) -> None:
    assert matches(parse_filter(sign_in_filter(NOW, 30)), entry) is counts


def test_a_page_gives_its_sign_ins_and_next_link() -> None:
    raw = (
        b'{"value": [{"userPrincipalName": "scan@contoso.com", "userId": "u1", '
        b'"createdDateTime": "2026-11-30T08:15:41.6195833Z", "ipAddress": "192.0.2.1", '
        b'"appDisplayName": ""}, {"userPrincipalName": "no-time@contoso.com"}],'
        b' "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=x"}'
    )
    (entry,), link = read_page(raw)
    assert (entry.user, entry.user_id, entry.ip_address) == ("scan@contoso.com", "u1", "192.0.2.1")
    assert entry.at == datetime(2026, 11, 30, 8, 15, 41, 619583, tzinfo=UTC)
    assert link == "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=x"
    assert read_page(b'{"value": []}') == ([], None)
    (naive,), _ = read_page(b'{"value": [{"createdDateTime": "2026-11-30T08:15:41"}]}')
    assert naive.at.tzinfo is UTC


@pytest.mark.parametrize(
    "raw", [b"", b"<html>", b"[]", b'{"error": {}}', b'{"value": [{"createdDateTime": "yesterday"}]}']
)
def test_anything_else_is_not_read_as_no_sign_ins(raw: bytes) -> None:
    with pytest.raises(SignInPageError):
        read_page(raw)
