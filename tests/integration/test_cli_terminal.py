"""What an admin's terminal shows: tenant text cleaned like the cards, the progress
line gone before anything else is written, and nothing but the report in between."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from datetime import date

import pytest

from shared.core.model import MailboxException
from shared.store.rows import exception_row_key
from tests.integration.helpers import services

pytestmark = pytest.mark.usefixtures("app_env")

ESCAPES = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"
HOSTILE = f"scan{ESCAPES} to \u202emoc.live\u202c mail\nsecond line\rover"
BAD = ("\x1b", "\u202e", "\u202c", "\x07")


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on one pseudo-terminal, as in a shell."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shared", *args],
            stdout=follower, stderr=follower, env=os.environ.copy(),
        )  # fmt: skip
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal closed
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=120)
    finally:
        os.close(leader)
    return code, seen.decode()


def screen(raw: str) -> list[str]:
    """The lines a terminal ends up showing: a carriage return goes back to the line's
    start and what follows overwrites it."""
    lines, current, col = [], [], 0
    for char in raw.replace("\r\n", "\n"):
        if char == "\n":
            lines.append("".join(current).rstrip())
            current, col = [], 0
        elif char == "\r":
            col = 0
        else:
            if col < len(current):
                current[col] = char
            else:
                current.append(char)
            col += 1
    if current:
        lines.append("".join(current).rstrip())
    return lines


def test_the_progress_line_is_gone_before_the_report_and_the_log(sim, tenant_id):
    tenant = sim.add_tenant(tenant_id, "tty.onmicrosoft.com")
    tenant.seed(2500, overrides={7: False})  # drift: the engine logs a warning about it
    subprocess.run([sys.executable, "-m", "shared", "tenant", "add", "--tenant", tenant_id,
                    "--domain", "tty.onmicrosoft.com"], check=True, capture_output=True)  # fmt: skip
    code, raw = on_a_terminal("check", "--tenant", tenant_id)
    assert code == 1
    assert "2,500 mailboxes read" in raw  # it was shown
    shown = screen(raw)
    assert not any("mailboxes read" in line for line in shown), shown
    assert shown[0].startswith(f"Tenant {tenant_id}")  # nothing left over in front of the report
    assert not any("finding(s) in" in line for line in shown)  # the report is the summary


def test_tenant_text_reaches_the_terminal_clean(sim, tenant_id):
    tenant = sim.add_tenant(tenant_id, "clean.onmicrosoft.com")
    tenant.seed(5)
    subprocess.run([sys.executable, "-m", "shared", "tenant", "add", "--tenant", tenant_id,
                    "--domain", "clean.onmicrosoft.com"], check=True, capture_output=True)  # fmt: skip
    mailbox = tenant.mailbox_at(1)

    async def approve() -> None:
        # As a row edited in Storage Explorer could say it: the CLI never sees it typed.
        async with services() as runtime:
            await runtime.desired.put_exception(
                tenant_id,
                MailboxException(
                    row_key=exception_row_key(mailbox.guid, mailbox.address), mailbox=mailbox.address, mailbox_guid=mailbox.guid,
                    reason=HOSTILE, approver="ciso@contoso.com", ticket=f"CHG{ESCAPES}-1",
                    expires=date(2099, 1, 1),
                ),
            )  # fmt: skip

    asyncio.run(approve())
    code, raw = on_a_terminal("exception", "list", "--tenant", tenant_id)
    assert code == 0
    for char in BAD:
        assert char not in raw, repr(char)
    shown = screen(raw)
    (row,) = [line for line in shown if mailbox.address in line]
    assert row.endswith("second line over")  # the reason stays on its row
    assert "CHG" in row and "click" in row

    tenant.forbidden = f"Insufficient privileges{ESCAPES}\n\u202eerased the screen"
    code, raw = on_a_terminal("check", "--tenant", tenant_id)
    assert code == 2
    for char in BAD:
        assert char not in raw, repr(char)
    (error,) = [line for line in screen(raw) if "COULD NOT CHECK" in line]
    assert "Insufficient privileges" in error and "erased the screen" in error
