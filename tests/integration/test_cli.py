"""The admin CLI as a user runs it: a separate process, real settings from the
environment, Azurite and the simulator behind it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

pytestmark = pytest.mark.usefixtures("app_env")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


@pytest.fixture
def tenant(sim, tenant_id):
    t = sim.add_tenant(tenant_id, "cli.onmicrosoft.com")
    t.seed(50)
    return t


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def test_exit_codes_follow_compliance(tenant, tenant_id):
    assert cli("tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com").returncode == 0
    clean = cli("check", "--tenant", tenant_id)
    assert clean.returncode == 0, clean.stderr
    assert "COMPLIANT" in clean.stdout

    printer = tenant.add_mailbox("printer@cli.onmicrosoft.com", smtp_auth_disabled=False)
    drift = cli("check", "--tenant", tenant_id, "--json")
    assert drift.returncode == 1, drift.stderr
    doc = json.loads(drift.stdout)
    (result,) = doc["results"]
    assert doc["exit_code"] == 1
    assert result["tenant"] == tenant_id and result["compliant"] is False
    assert result["org"] == {"actual": True, "desired": True}
    assert result["mailboxes_scanned"] == 51
    (finding,) = result["findings"]
    assert finding["kind"] == "mailbox-enabled-without-exception"
    assert (finding["severity"], finding["controls"]) == ("medium", ["CIS M365 6.5.4"])
    assert doc["version"] == 1  # the new keys are additive
    assert finding["mailbox"] == printer.address and finding["mailbox_guid"] == printer.guid
    assert (finding["actual"], finding["desired"]) == (False, True)
    assert datetime.fromisoformat(result["checked_at"]).tzinfo is not None

    # Approving it with the CLI resolves the GUID through Exchange and clears the drift.
    added = cli(
        "exception", "add", "--tenant", tenant_id, "--mailbox", "PRINTER@cli.onmicrosoft.com",
        "--reason", "scan to mail", "--approver", "ciso@contoso.com", "--ticket", "CHG-1",
        "--expires", future(),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert printer.guid in added.stdout
    listed = cli("exception", "list", "--tenant", tenant_id)
    assert printer.guid in listed.stdout and "CHG-1" in listed.stdout
    again = cli("check", "--tenant", tenant_id)
    assert again.returncode == 0, again.stdout
    assert "1 resolved" in again.stdout


def test_could_not_check_is_exit_2_with_the_reason(tenant, tenant_id):
    cli("tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com")
    tenant.forbidden = "Insufficient privileges: Exchange role missing"
    out = cli("check", "--tenant", tenant_id, "--json")
    assert out.returncode == 2
    (result,) = json.loads(out.stdout)["results"]
    assert result["status"] == "could-not-check"
    assert "Exchange role missing" in result["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--mailbox", "ghost@cli.onmicrosoft.com", "--expires", future()],
            "no mailbox 'ghost@cli.onmicrosoft.com'",
        ),
        (["--mailbox", "user00001@cli.onmicrosoft.com", "--expires", "2020-01-01"], "is in the past"),
        (["--mailbox", "user00001@cli.onmicrosoft.com", "--expires", "soon"], "expected a date YYYY-MM-DD"),
    ],
)
def test_exception_add_refuses_bad_input(tenant, tenant_id, args, message):
    cli("tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com")
    out = cli(
        "exception", "add", "--tenant", tenant_id, "--reason", "r", "--approver", "a@contoso.com", *args
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert "no exceptions" in cli("exception", "list", "--tenant", tenant_id).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--evidence-days", "31"], "argument --evidence-days: must be a whole number from 1 to 30"),
     (["--max-changes", "1001"], "argument --max-changes: must be a whole number from 0 to 1000"),
     (["--domain", "contoso"], "argument --domain: must be a domain like contoso.onmicrosoft.com"),
     (["--teams-webhook-setting", "https://x.example/wf?sig=s3cr3t"], "NAME of an app setting")],
)  # fmt: skip
def test_tenant_add_refuses_what_the_row_loader_would_refuse(tenant_id, args, message):
    out = cli("tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com", *args)
    assert out.returncode == 2 and message in out.stderr
    assert "s3cr3t" not in out.stderr  # a webhook URL typed by mistake is not echoed
    assert "no tenants monitored" in cli("tenant", "list").stdout


def test_history_lists_runs_and_changes_and_names_a_malformed_row(tenant, tenant_id, app_env):
    cli("tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com")
    cli("check", "--tenant", tenant_id)
    printer = tenant.add_mailbox("printer@cli.onmicrosoft.com", smtp_auth_disabled=False)
    cli("check", "--tenant", tenant_id)
    out = cli("history", "--tenant", tenant_id)
    assert out.returncode == 0, out.stderr
    runs, changes = out.stdout.split("\n\n")
    assert [line.split()[2:] for line in runs.splitlines()[1:]] == [
        ["drift", "51", "1", "1", "0"],  # newest first: the printer is new
        ["compliant", "50", "0", "0", "0"],
    ]
    (change,) = changes.splitlines()[1:]
    assert change.split()[2:] == ["opened", "mailbox-enabled-without-exception", printer.address]

    # A run row edited by hand, newest of all: the command says which row is wrong.
    table = f"{app_env['SMTPAUTH_TABLE_PREFIX']}Runs"
    bad = {"PartitionKey": tenant_id, "RowKey": "0" * 20 + "-edited", "CheckedAt": "yesterday"}
    TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        table
    ).create_entity(bad)
    out = cli("history", "--tenant", tenant_id)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(
        f"error: table {table!r}, tenant {tenant_id!r}, row {bad['RowKey']!r}, property 'CheckedAt': "
    )


def test_unknown_tenant_is_a_clear_error(tenant_id):
    out = cli("check", "--tenant", tenant_id)
    assert out.returncode == 2 and "is not monitored" in out.stderr
    assert f"smtp-auth-guard tenant add --tenant {tenant_id} --domain DOMAIN" in out.stderr


def test_tenant_list_and_remove(tenant_id):
    assert (
        cli(
            "tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com", "--mode", "remediate"
        ).returncode
        == 0
    )
    listed = cli("tenant", "list").stdout
    assert tenant_id in listed and "remediate" in listed
    assert cli("tenant", "remove", "--tenant", tenant_id).returncode == 0
    assert "no tenants monitored" in cli("tenant", "list").stdout


@pytest.mark.parametrize(
    "command",
    [[], ["check"], ["tenant"], ["tenant", "add"], ["tenant", "list"], ["tenant", "remove"], ["exception"],
     ["exception", "add"], ["exception", "list"], ["exception", "remove"], ["history"]],
)  # fmt: skip
def test_every_command_has_help(command):
    out = cli(*command, "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: smtp-auth-guard")


def test_exception_remove(tenant, tenant_id):
    cli("tenant", "add", "--tenant", tenant_id, "--domain", "cli.onmicrosoft.com")
    mailbox = tenant.mailbox_at(1)
    cli("exception", "add", "--tenant", tenant_id, "--mailbox", mailbox.address, "--reason", "r",
        "--approver", "a@contoso.com", "--expires", future())  # fmt: skip
    assert cli("exception", "remove", "--tenant", tenant_id, "--mailbox", mailbox.guid).returncode == 0
    assert "no exceptions" in cli("exception", "list", "--tenant", tenant_id).stdout
    again = cli("exception", "remove", "--tenant", tenant_id, "--mailbox", mailbox.address)
    assert again.returncode == 2 and "no exception for" in again.stderr


def test_progress_is_shown_on_a_terminal_only(sim, tenant_id):
    sim.add_tenant(tenant_id, "tty.onmicrosoft.com").seed(2500)
    cli("tenant", "add", "--tenant", tenant_id, "--domain", "tty.onmicrosoft.com")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "shared", "check", "--tenant", tenant_id],
            stdout=subprocess.PIPE, stderr=follower, env=os.environ.copy(), timeout=120, check=False,
        )  # fmt: skip
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0
    assert b"2,500 mailboxes read" in seen
    assert b"mailboxes read" not in proc.stdout
    assert "mailboxes read" not in cli("check", "--tenant", tenant_id).stderr  # not a terminal
