"""The CLI's text report is as clean as the cards: tenant text is one line without
control, escape or bidi characters, and counts are written one way everywhere."""

from __future__ import annotations

from datetime import timedelta

from shared.core.model import ActionStatus, Status
from shared.shell import report
from shared.store.records import RunRecord
from tests.unit.notify_values import HOSTILE, NOW, action, findings, outcome, result

ESCAPES = "\x1b[2J\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\r\x08\x00"
HOSTILE_TEXT = HOSTILE + ESCAPES + "\u2028\u2066end"
BAD = ("\x1b", "\u202e", "\u202c", "\u2066", "\u2028", "\x07", "\x08", "\x00", "\r")


def assert_clean(text: str) -> None:
    for char in BAD:
        assert char not in text, repr(char)


def test_an_error_text_is_one_clean_line():
    text = report.text([result(error=f"Exchange said: {HOSTILE_TEXT}")])
    assert_clean(text)
    (line,) = [line for line in text.splitlines() if "COULD NOT CHECK" in line]
    assert line.endswith("end") and "second line" in line


def test_addresses_reasons_and_notes_are_clean_in_every_table_and_line():
    (finding,) = findings(f"x{ESCAPES}\u202eyz@contoso.com")
    held = action(finding, ActionStatus.HELD, f"held: {HOSTILE_TEXT}")
    text = report.text([result([finding], remediation=outcome(held, note=HOSTILE_TEXT))])
    assert_clean(text)
    rows = [line for line in text.splitlines() if line.strip()]
    assert not any(line.startswith("second line") for line in rows)  # no line break got through
    assert "| table |" in text  # the text itself is kept, only made safe


def test_counts_are_written_the_same_in_the_table_and_the_summary():
    many = findings(*(f"user{i:05d}@contoso.com" for i in range(1234)))
    text = report.text([result(many, before=many[:2])], limit=5)
    assert "mailboxes scanned: 1,000" in text
    assert "... and 1,229 more" in text
    assert "Since the last run: 1,232 new, 0 changed, 0 resolved, 2 unchanged" in text


def test_history_counts_use_the_same_separators():
    run = RunRecord(
        tenant="t", row_key="r", checked_at=NOW - timedelta(hours=1), status=Status.DRIFT,
        mailboxes_scanned=12_345, finding_count=1_234, opened=1_200, resolved=0,
    )  # fmt: skip
    (_, row) = report.history_text([run], []).splitlines()
    assert row.split()[2:] == ["drift", "12,345", "1,234", "1,200", "0"]
