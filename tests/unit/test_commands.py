"""The commands messages tell people to run: one builder spells each, and nothing in
the product spells a PowerShell fix by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.core import commands

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
GUID = "5b1f3a2e-7c4d-4e8f-9a6b-0c1d2e3f4a5b"


@pytest.mark.parametrize(("value", "spelled"), [(True, "$true"), (False, "$false"), (None, "$null")])
def test_powershell_values(value, spelled):
    assert commands.powershell_value(value) == spelled
    assert (
        commands.set_transport_config(value)
        == f"Set-TransportConfig -SmtpClientAuthenticationDisabled {spelled}"
    )
    assert (
        commands.set_cas_mailbox(GUID, value)
        == f"Set-CASMailbox -Identity {GUID} -SmtpClientAuthenticationDisabled {spelled}"
    )


def test_addresses_and_the_placeholder_stay_bare():
    assert commands.set_cas_mailbox("scan.er+1@contoso.com", False).split()[2] == "scan.er+1@contoso.com"
    assert commands.set_cas_mailbox("ADDRESS", False).split()[2] == "ADDRESS"


@pytest.mark.parametrize(
    ("identity", "quoted"),
    [
        ("a b", "'a b'"),
        ("", "''"),  # still one argument
        ("$(Remove-Mailbox x)", "'$(Remove-Mailbox x)'"),  # single quotes expand nothing
        ("o'brien", "'o''brien'"),
        ("o\u2019brien", "'o\u2019\u2019brien'"),  # PowerShell reads a typographic quote as one too
        ("-Confirm", "'-Confirm'"),  # not a parameter of its own
        ("x; Set-TransportConfig", "'x; Set-TransportConfig'"),
    ],
)
def test_tenant_supplied_identities_are_one_literal_argument(identity, quoted):
    command = commands.set_cas_mailbox(identity, True)
    assert command == f"Set-CASMailbox -Identity {quoted} -SmtpClientAuthenticationDisabled $true"
    # Inside the quotes every quote character comes in pairs: none ends the literal early.
    inner = quoted[1:-1]
    assert all(len(run) % 2 == 0 for run in re.findall("['\u2018\u2019\u201a\u201b]+", inner))


def test_cli_commands_quote_what_the_tenant_supplies():
    assert commands.exception_remove(GUID, "a'b@contoso.com").endswith("--mailbox 'a'\"'\"'b@contoso.com'")
    assert commands.exception_add(GUID).startswith(
        f"{commands.CLI} exception add --tenant {GUID} --mailbox ADDRESS"
    )


# A PowerShell fix spelled outside the builder would drift from it (and from its quoting).
HAND_SPELLED = re.compile(
    r"Set-CASMailbox -Identity|-SmtpClientAuthenticationDisabled \$|Set-TransportConfig -"
)


def test_no_module_spells_a_powershell_fix_by_hand():
    builder = SHARED / "core" / "commands.py"
    offenders = [
        f"{path.relative_to(SHARED.parent)}:{n}: {line.strip()}"
        for path in sorted(SHARED.rglob("*.py"))
        if path != builder
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_SPELLED.search(line)
    ]
    assert offenders == []
    assert HAND_SPELLED.search(builder.read_text(encoding="utf-8"))  # the pattern does match the real thing


# A CLI hint spelled by hand would miss a rename of the command (it was `python -m shared`).
HAND_SPELLED_CLI = re.compile(
    r"(python -m shared|smtp-auth-guard) (check|tenant|exception|plan|audit|history)\b"
)


def test_every_cli_hint_comes_from_the_builder():
    builder = SHARED / "core" / "commands.py"
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for folder in (SHARED, ROOT / "sim")
        for path in sorted(folder.rglob("*.py"))
        if path != builder
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_SPELLED_CLI.search(line)
    ]
    assert offenders == []
    assert commands.CLI == "smtp-auth-guard"
    assert commands.check("t1", json=True) == "smtp-auth-guard check --tenant t1 --json"
    assert commands.audit("t 1") == "smtp-auth-guard audit --tenant 't 1'"
    assert commands.tenant_add() == "smtp-auth-guard tenant add --tenant TENANT --domain DOMAIN"


@pytest.mark.parametrize("hidden", ["moc.oc\u202etnetnoc", "a\nb", "x\x1b[0m", "a\u200fb"])
def test_tenant_text_that_would_not_show_as_itself_is_never_put_in_a_command(hidden):
    # A key typed into Table Storage can hold a bidi override or a control: in a
    # command it would read otherwise than it runs.
    assert commands.check(hidden) == f"{commands.CLI} check"
    assert commands.exception_list(hidden) == f"{commands.CLI} exception list --tenant TENANT"
    assert commands.exception_remove(GUID, hidden).endswith(f"--tenant {GUID} --mailbox ADDRESS")
    assert (
        commands.check("contoso.onmicrosoft.com") == f"{commands.CLI} check --tenant contoso.onmicrosoft.com"
    )
