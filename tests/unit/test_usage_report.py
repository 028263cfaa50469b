"""The usage report's pure parts: joining accounts with mailboxes and exceptions, and
CSV cells that no spreadsheet runs as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from shared.core.model import Evidence, MailboxException, MailboxSetting, SmtpUser
from shared.core.smtp_usage import TenantUsage, join
from shared.shell.usage_report import CSV_COLUMNS, cell, exit_code, to_csv

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def user(name: str, uid: str = "") -> SmtpUser:
    return SmtpUser(name, uid, 3, NOW, NOW, ("192.0.2.1",), ("Authenticated SMTP",))


def exc(mailbox: str, guid: str | None, expires: date) -> MailboxException:
    return MailboxException("k" + mailbox, mailbox, guid, "MFP", "ciso@contoso.com", expires)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "=HYPERLINK(\u202e1)"])
def test_a_cell_is_never_a_formula(text: str) -> None:
    assert cell(text).startswith("'")
    assert "\u202e" not in cell(text)


def test_plain_cells_are_left_alone() -> None:
    assert cell("scan@contoso.com") == "scan@contoso.com" and cell(None) == "" and cell(3) == "3"


def test_join_finds_the_mailbox_its_exception_and_what_is_in_force() -> None:
    scan = MailboxSetting("g1", "scan@contoso.com", False, "u1")
    app = MailboxSetting("g2", "app@contoso.com", None, "u2")
    exceptions = [
        exc("scan@contoso.com", "g1", date(2027, 1, 1)),
        exc("app@contoso.com", None, date(2026, 1, 1)),
    ]
    mailboxes = {"scan@contoso.com": scan, "app@contoso.com": app, "gone@contoso.com": "couldn't be found"}
    rows = join(
        [user("scan@contoso.com", "u1"), user("app@contoso.com", "u2"), user("gone@contoso.com")],
        mailboxes,
        exceptions,
        False,
        NOW,
    )
    s, a, g = rows
    assert (s.override, s.effective_disabled, s.exception_live) == (False, False, True)
    assert (a.override, a.effective_disabled, a.exception_live) == (None, False, False)  # follows the org: ON
    assert a.exception is not None and a.exception.expires == date(2026, 1, 1)
    assert (g.mailbox, g.lookup_problem, g.exception) == (None, "couldn't be found", None)


def test_every_csv_row_has_every_column_and_an_unread_tenant_says_so() -> None:
    row = join([user("scan@contoso.com")], {}, [], True, NOW)
    read = TenantUsage("t1", "a.onmicrosoft.com", 30, Evidence(True, 30), True, None, row)
    empty = TenantUsage("t2", "b.onmicrosoft.com", 30, Evidence(True, 30), True)
    unread = TenantUsage("t3", "c.onmicrosoft.com", 30, Evidence(False, 30, problem="HTTP 403"))
    rows = list(csv.reader(io.StringIO(to_csv([read, empty, unread]))))
    assert rows[0] == list(CSV_COLUMNS) and all(len(r) == len(CSV_COLUMNS) for r in rows)
    assert [r[0] for r in rows[1:]] == ["t1", "t2", "t3"]
    assert "no successful SMTP AUTH sign-in" in rows[2][-1] and "unknown, not nobody" in rows[3][-1]
    assert exit_code([read, empty]) == 0 and exit_code([read, unread]) == 2 and exit_code([]) == 2
