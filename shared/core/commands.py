"""The admin commands that messages tell people to run, built in one place so every
finding, held action, card and mail spells them the same way (and the same as the
CLI parses them). Tenant-supplied parts are shell-quoted."""

from __future__ import annotations

import shlex

CLI = "python -m shared"


def exception_add(tenant: str, mailbox: str = "ADDRESS") -> str:
    q = shlex.quote
    target = mailbox if mailbox == "ADDRESS" else q(mailbox)
    return (
        f"{CLI} exception add --tenant {q(tenant)} --mailbox {target} "
        "--reason REASON --approver APPROVER --expires YYYY-MM-DD"
    )


def exception_remove(tenant: str, mailbox: str = "ADDRESS") -> str:
    target = mailbox if mailbox == "ADDRESS" else shlex.quote(mailbox)
    return f"{CLI} exception remove --tenant {shlex.quote(tenant)} --mailbox {target}"


def exception_list(tenant: str) -> str:
    return f"{CLI} exception list --tenant {shlex.quote(tenant)}"
