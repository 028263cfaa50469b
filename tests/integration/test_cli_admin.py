"""Managing tenants and exceptions with the CLI never loses a setting: `tenant add`
creates, `tenant set` changes only what it is given, `--tenant` names one tenant by
GUID or initial domain, and the commands agree with each other. The CLI's own
handler runs in-process against Azurite and the simulator (real HTTP, real tables)."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from shared.shell.cli import main

pytestmark = pytest.mark.usefixtures("app_env")
DOMAIN = "admin.onmicrosoft.com"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def cli(*argv: str) -> Ran:
    """main() as the console script calls it; argparse's exit is the exit code."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Ran(code, out.getvalue(), err.getvalue())


def desired_rows(app_env: dict[str, str]) -> list[dict[str, Any]]:
    """Every desired-state row as stored (values and types), in key order."""
    table = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        f"{app_env['SMTPAUTH_TABLE_PREFIX']}Desired"
    )
    try:
        rows = [dict(e) for e in table.list_entities()]
    except ResourceNotFoundError:  # no command has opened the tables yet
        return []
    return sorted(rows, key=lambda r: (r["PartitionKey"], r["RowKey"]))


def tenant_row(app_env: dict[str, str], tenant: str) -> dict[str, Any]:
    (row,) = [r for r in desired_rows(app_env) if r["PartitionKey"] == tenant and r["RowKey"] == "tenant"]
    return row


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


@pytest.fixture
def tenant(sim, tenant_id):
    t = sim.add_tenant(tenant_id, DOMAIN)
    t.seed(5)
    return t


def add(tenant_id: str, *options: str) -> Ran:
    return cli("tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN, *options)


# -- 1. no silent resets -------------------------------------------------------------


def test_tenant_add_refuses_an_existing_tenant_and_points_at_set(app_env, tenant_id):
    assert add(tenant_id, "--notify-email", "secops@contoso.com", "--max-changes", "5").code == 0
    before = desired_rows(app_env)
    again = add(tenant_id, "--mode", "remediate")  # what the README used to suggest
    assert again.code == 2
    assert f"tenant {tenant_id} is already monitored" in again.err
    assert f"smtp-auth-guard tenant set --tenant {tenant_id}" in again.err
    assert desired_rows(app_env) == before  # targets and guard rails kept


def test_tenant_set_changes_only_what_it_is_given(app_env, tenant_id):
    add(
        tenant_id,
        "--notify-email",
        "secops@contoso.com",
        "--teams-webhook-setting",
        "TEAMS_X",
        "--max-changes",
        "5",
    )
    before = tenant_row(app_env, tenant_id)
    out = cli("tenant", "set", "--tenant", tenant_id, "--mode", "remediate")
    assert out.code == 0, out.err
    assert out.out.splitlines() == [f"tenant {tenant_id}: 1 change(s)", "  Mode: report -> remediate"]
    after = tenant_row(app_env, tenant_id)
    assert after.pop("Mode") == "remediate" and before.pop("Mode") == "report"
    assert after == before  # every other column byte-identical

    # Set by domain, several at once, a list replaced, a value given twice is not a change.
    out = cli("tenant", "set", "--tenant", DOMAIN, "--notify-email", "a@contoso.com;b@contoso.com",
              "--max-changes", "5", "--disabled", "--no-teams-webhook-setting")  # fmt: skip
    assert out.code == 0, out.err
    assert out.out.splitlines()[1:] == [
        "  Enabled: true -> false",
        "  NotifyEmail: secops@contoso.com -> a@contoso.com;b@contoso.com",
        "  NotifyTeamsWebhookSetting: TEAMS_X -> (none)",
    ]
    assert tenant_row(app_env, tenant_id)["MaxChangesPerRun"] == 5
    nothing = cli("tenant", "set", "--tenant", tenant_id, "--mode", "remediate")
    assert nothing.code == 0 and "no change" in nothing.out


def test_tenant_set_keeps_columns_added_by_hand_and_refuses_nothing_to_do(app_env, tenant_id):
    add(tenant_id)
    table = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        f"{app_env['SMTPAUTH_TABLE_PREFIX']}Desired"
    )
    table.update_entity({"PartitionKey": tenant_id, "RowKey": "tenant", "Owner": "Jo (MSP desk)"})
    assert cli("tenant", "set", "--tenant", tenant_id, "--evidence-days", "7").code == 0
    assert tenant_row(app_env, tenant_id)["Owner"] == "Jo (MSP desk)"
    empty = cli("tenant", "set", "--tenant", tenant_id)
    assert empty.code == 2 and "give at least one option" in empty.err


def test_tenant_set_repairs_a_hand_edited_field_and_refuses_one_it_cannot(app_env, tenant_id):
    add(tenant_id)
    table = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        f"{app_env['SMTPAUTH_TABLE_PREFIX']}Desired"
    )
    table.update_entity({"PartitionKey": tenant_id, "RowKey": "tenant", "EvidenceDays": 45})
    other = cli("tenant", "set", "--tenant", tenant_id, "--mode", "remediate")
    assert other.code == 2
    assert other.err.startswith("error: --evidence-days: must be a whole number from 1 to 30")
    assert tenant_row(app_env, tenant_id)["Mode"] == "report"  # nothing written
    fixed = cli("tenant", "set", "--tenant", tenant_id, "--evidence-days", "14")
    assert fixed.code == 0 and "EvidenceDays: 45 -> 14" in fixed.out


def test_tenant_show_prints_every_field(app_env, tenant_id):
    add(
        tenant_id,
        "--notify-email",
        "secops@contoso.com",
        "--teams-webhook-setting",
        "TEAMS_X",
        "--max-changes",
        "5",
    )
    out = cli("tenant", "show", "--tenant", DOMAIN)
    assert out.code == 0, out.err
    shown = dict(
        line.split(None, 1) for line in out.out.splitlines()[2:] if not line.startswith("  exceptions")
    )
    assert shown == {
        "InitialDomain": DOMAIN,
        "SmtpClientAuthenticationDisabled": "true",
        "Mode": "report",
        "Enabled": "true",
        "NotifyEmail": "secops@contoso.com",
        "NotifyTeamsWebhookSetting": "TEAMS_X",
        "MailboxFix": "disable",
        "EvidenceDays": "30",
        "WhenEvidenceUnavailable": "hold",
        "MaxChangesPerRun": "5",
        "IntervalMinutes": "0",
        "GraceHours": "24",
    }


def test_grace_hours_is_added_shown_changed_and_refused_past_its_limit(app_env, tenant_id):
    assert add(tenant_id, "--mode", "remediate", "--grace-hours", "48").code == 0
    assert tenant_row(app_env, tenant_id)["GraceHours"] == 48
    shown = [line.split() for line in cli("tenant", "show", "--tenant", tenant_id).out.splitlines()]
    assert ["GraceHours", "48"] in shown
    out = cli("tenant", "set", "--tenant", tenant_id, "--grace-hours", "0")
    assert out.code == 0, out.err
    assert out.out.splitlines()[1:] == ["  GraceHours: 48 -> 0"]
    refused = cli("tenant", "set", "--tenant", tenant_id, "--grace-hours", "721")
    assert refused.code == 2 and "--grace-hours" in refused.err and "from 0 to 720" in refused.err
    assert tenant_row(app_env, tenant_id)["GraceHours"] == 0  # nothing written


def test_tenant_list_and_add_warn_of_a_tenant_nobody_hears_from(tenant_id):
    added = add(tenant_id)
    assert added.code == 0 and "has no notification target" in added.err
    listed = cli("tenant", "list")
    assert f"warning: tenant {tenant_id} has no notification target" in listed.err
    assert f"tenant set --tenant {tenant_id} --notify-email ADDRESS" in listed.err
    cli("tenant", "set", "--tenant", tenant_id, "--notify-email", "secops@contoso.com")
    assert "no notification target" not in cli("tenant", "list").err


# -- 3. a tenant is one tenant --------------------------------------------------------


def test_tenant_is_named_by_guid_or_initial_domain_everywhere(tenant, tenant_id):
    assert add(tenant_id).code == 0
    assert cli("check", "--tenant", DOMAIN.upper()).code == 0
    mailbox = tenant.mailbox_at(1)
    added = cli("exception", "add", "--tenant", DOMAIN, "--mailbox", mailbox.address, "--reason", "scanner",
                "--approver", "ciso@contoso.com", "--expires", future())  # fmt: skip
    assert added.code == 0, added.err
    assert mailbox.address in cli("exception", "list", "--tenant", DOMAIN).out
    assert "compliant" in cli("history", "--tenant", DOMAIN).out
    assert cli("audit", "--tenant", DOMAIN).code == 0
    assert cli("plan", "--tenant", DOMAIN).code == 0  # an unused exception is hygiene: nothing to do
    assert tenant_id in cli("tenant", "show", "--tenant", DOMAIN).out
    assert cli("exception", "remove", "--tenant", DOMAIN, "--mailbox", mailbox.address).code == 0
    assert cli("tenant", "remove", "--tenant", DOMAIN).code == 0
    assert "no tenants monitored" in cli("tenant", "list").out


@pytest.mark.parametrize("command", [["check"], ["history"], ["audit"], ["plan"], ["exception", "list"],
                                     ["tenant", "show"], ["tenant", "set", "--mode", "report"]])  # fmt: skip
def test_a_domain_no_row_has_is_a_clear_error(tenant_id, command):
    add(tenant_id)
    out = cli(*command, "--tenant", "fabrikam.onmicrosoft.com")
    assert out.code == 2
    assert out.err.startswith("error: no tenant row has the initial domain 'fabrikam.onmicrosoft.com'")


def test_tenant_add_refuses_a_second_row_for_a_domain_and_a_domain_for_the_guid(app_env, tenant_id):
    assert add(tenant_id).code == 0
    before = desired_rows(app_env)
    second = add(str(uuid.uuid4()))
    assert second.code == 2 and f"tenant {tenant_id} already has the domain {DOMAIN}" in second.err
    by_domain = cli("tenant", "add", "--tenant", DOMAIN, "--domain", DOMAIN)
    assert by_domain.code == 2 and "must be the tenant's GUID" in by_domain.err
    moved = cli("tenant", "add", "--tenant", str(uuid.uuid4()), "--domain", "other.onmicrosoft.com")
    assert moved.code == 0
    taken = cli("tenant", "set", "--tenant", "other.onmicrosoft.com", "--domain", DOMAIN)
    assert taken.code == 2 and "already has the domain" in taken.err
    assert [r for r in desired_rows(app_env) if r["InitialDomain"] == DOMAIN] == before


# -- 5. consistent commands -----------------------------------------------------------


@pytest.mark.parametrize("command", [["history"], ["audit"]])
@pytest.mark.parametrize("limit", ["0", "-1", "1001", "ten"])
def test_limit_is_a_whole_number_from_1(tenant_id, command, limit):
    out = cli(*command, "--tenant", tenant_id, "--limit", limit)
    assert out.code == 2
    assert "argument --limit: must be a whole number from 1 to 1000" in out.err
    assert "Traceback" not in out.err


def test_check_with_no_tenant_says_how_to_add_one():
    out = cli("check")
    assert out.code == 2
    assert out.err == (
        "error: no tenant is monitored: add one with smtp-auth-guard tenant add --tenant TENANT --domain DOMAIN\n"
    )


def test_plan_of_a_compliant_tenant_exits_0_with_checks_envelope(tenant, tenant_id, app_env):
    add(tenant_id)
    out = cli("plan", "--tenant", tenant_id, "--json")
    assert out.code == 0, out.err
    doc = json.loads(out.out)
    assert (doc["version"], doc["exit_code"]) == (1, 0)
    (result,) = doc["results"]
    assert result["status"] == "compliant" and result["remediation"]["actions"] == []
    tables = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"])
    for name in ("Runs", "Audit", "Events", "Findings", "Locks", "Outbox"):
        table = tables.get_table_client(f"{app_env['SMTPAUTH_TABLE_PREFIX']}{name}")
        assert list(table.list_entities()) == [], name


def test_exception_add_on_an_existing_one_says_it_updates_it(app_env, tenant, tenant_id):
    add(tenant_id)
    mailbox = tenant.mailbox_at(2)
    base = (
        "exception",
        "add",
        "--tenant",
        tenant_id,
        "--mailbox",
        mailbox.address,
        "--approver",
        "ciso@contoso.com",
    )
    first = cli(*base, "--reason", "scanner", "--expires", future(30))
    assert first.code == 0 and "exception recorded" in first.out
    second = cli(*base, "--reason", "scanner, floor 3", "--ticket", "CHG-9", "--expires", future(60))
    assert second.code == 0, second.err
    assert second.out.splitlines() == [
        f"exception for {mailbox.address} (GUID {mailbox.guid}) updated (it already had one)",
        "  Reason: scanner -> scanner, floor 3",
        "  Ticket: (none) -> CHG-9",
        f"  Expires: {future(30)} -> {future(60)}",
    ]
    rows = [r for r in desired_rows(app_env) if r["RowKey"].startswith("exception:")]
    assert [(r["Reason"], r["Ticket"]) for r in rows] == [("scanner, floor 3", "CHG-9")]


def test_tenant_remove_with_exceptions_needs_yes(app_env, tenant, tenant_id):
    add(tenant_id)
    cli("exception", "add", "--tenant", tenant_id, "--mailbox", tenant.mailbox_at(1).address, "--reason", "r",
        "--approver", "a@contoso.com", "--expires", future())  # fmt: skip
    before = desired_rows(app_env)
    refused = cli("tenant", "remove", "--tenant", tenant_id)
    assert refused.code == 2 and "has 1 exception(s)" in refused.err and "--yes" in refused.err
    assert desired_rows(app_env) == before
    assert cli("tenant", "remove", "--tenant", tenant_id, "--yes").code == 0
    assert desired_rows(app_env) == []


def test_notify_email_takes_the_semicolon_form_the_docs_show(app_env, tenant_id):
    out = add(
        tenant_id, "--notify-email", "secops@contoso.com;it@contoso.com", "--notify-email", "noc@contoso.com"
    )
    assert out.code == 0, out.err
    assert (
        tenant_row(app_env, tenant_id)["NotifyEmail"] == "secops@contoso.com;it@contoso.com;noc@contoso.com"
    )
