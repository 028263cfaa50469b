"""`usage` as an admin runs it (in process, real settings, Azurite and the simulator):
who signed in with SMTP AUTH, with Basic auth, joined with each mailbox's state and
exception; table, JSON and CSV; unavailable evidence said as such, never "no users"."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.shell.cli.app import main
from sim.graph_signins import sign_in
from sim.signin_mix import usage_mix

pytestmark = pytest.mark.usefixtures("app_env")
DOMAIN = "usage.onmicrosoft.com"


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.fixture
def office(sim, tenant_id, capsys):
    """A printer with an approved exception, an app without one (both sending over SMTP
    AUTH), a person on other client apps, and a spray against twenty accounts."""
    tenant = sim.add_tenant(tenant_id, DOMAIN)
    tenant.seed(40)
    printer = tenant.add_mailbox(f"printer@{DOMAIN}", smtp_auth_disabled=False)
    app = tenant.add_mailbox(f"erp@{DOMAIN}", smtp_auth_disabled=False)
    now = datetime.now(UTC)
    entries = usage_mix(
        now - timedelta(minutes=5),
        basic=[printer],
        legacy=[app],
        people=[tenant.mailbox_at(1)],
        sprayed=[tenant.mailbox_at(i).address for i in range(10, 30)],
        days=20,
    )
    for entry in entries:
        sim.add_sign_in(entry)
    assert main(["tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN]) == 0
    expires = (now + timedelta(days=90)).date().isoformat()
    add = ["exception", "add", "--tenant", tenant_id, "--mailbox", printer.address]
    assert main([*add, "--reason", "MFP", "--approver", "ciso@contoso.com", "--expires", expires]) == 0
    capsys.readouterr()
    ok = [
        e
        for e in entries
        if e["status"]["errorCode"] == 0 and e["clientAppUsed"] in ("SMTP", "Authenticated SMTP")
    ]
    return printer, app, ok


def test_the_report_joins_usage_with_mailbox_state_and_exceptions(office, capsys, tenant_id):
    printer, app, ok = office
    code, out = run(capsys, "usage", "--tenant", DOMAIN, "--json")
    assert code == 0
    doc = json.loads(out)
    (report,) = doc["tenants"]
    assert (report["tenant"], report["days"], report["complete"]) == (tenant_id, 30, True)
    by_user = {u["user"]: u for u in report["users"]}
    assert set(by_user) == {printer.address, app.address}  # no spray, no browser sign-ins
    p, a = by_user[printer.address], by_user[app.address]
    assert p["sign_ins"] == len([e for e in ok if e["userPrincipalName"] == printer.address])
    assert p["first_seen"] < p["last_seen"] and p["client_ips"] == ["203.0.113.10"]
    assert (p["auth_protocol"], p["client_apps"], a["client_apps"]) == (
        "basic",
        ["Authenticated SMTP"],
        ["SMTP"],
    )
    assert p["smtp_auth"] == {"org": True, "override": False, "effective": False}
    assert p["mailbox_guid"] == printer.guid
    assert p["exception"]["approved"] is True and p["exception"]["approver"] == "ciso@contoso.com"
    assert a["exception"] is None
    assert (
        report["basic_auth_smtp"]["state"] == "allowed" and doc["basic_auth_off_by_default"] == "2026-12-31"
    )

    code, table = run(capsys, "usage", "--tenant", tenant_id)
    assert code == 0
    assert "approved by ciso@contoso.com" in table and "basic" in table and printer.address in table
    assert "Basic SMTP AUTH: allowed" in table


def test_csv_is_one_row_per_account_with_a_tenant_column_and_no_formulas(office, sim, capsys, tenant_id):
    printer, app, _ = office
    # A user name from the sign-in log that a spreadsheet would run, with a bidi override.
    sim.add_sign_in(
        sign_in("=HYPERLINK(\u202e1)@usage.onmicrosoft.com", datetime.now(UTC) - timedelta(hours=1))
    )
    code, out = run(capsys, "usage", "--csv", "--days", "7")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["tenant"] for r in rows} == {tenant_id}
    users = {r["user"]: r for r in rows}
    assert printer.address in users and app.address in users
    assert "'=HYPERLINK(1)@usage.onmicrosoft.com" in users
    evil = users["'=HYPERLINK(1)@usage.onmicrosoft.com"]
    assert evil["mailbox_override"] == "no mailbox" and evil["exception"] == "none"
    assert users[printer.address]["exception"].startswith("approved by ciso@contoso.com")
    assert users[app.address]["effective_smtp_auth"] == "ON"


def test_unavailable_evidence_is_said_never_no_users(office, sim, capsys):
    sim.graph_premium = False
    code, out = run(capsys, "usage", "--json")
    assert code == 2
    (report,) = json.loads(out)["tenants"]
    assert report["users"] is None and report["complete"] is False
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in report["evidence"]["problem"]

    code, table = run(capsys, "usage")
    assert code == 2 and "SIGN-IN EVIDENCE UNAVAILABLE" in table and "unknown, not nobody" in table
    code, out = run(capsys, "usage", "--csv")
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["user"] == "" and "sign-in evidence unavailable" in row["note"]


def test_suggest_prints_exception_add_for_used_mailboxes_without_one_and_approves_nothing(
    office, sim, capsys, tenant_id
):
    _, app, _ = office
    code, out = run(capsys, "exception", "suggest", "--tenant", DOMAIN)
    assert code == 0
    commands = [line for line in out.splitlines() if not line.startswith("#")]
    expires = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    assert commands == [
        (
            f"smtp-auth-guard exception add --tenant {tenant_id} --mailbox {app.address} "
            f"--reason REASON --approver APPROVER --ticket TICKET --expires {expires}"
        )
    ]
    assert f"# {app.address}: " in out and "Basic auth" in out
    assert "no account relies on it" in out  # the org switch is off
    code, listed = run(capsys, "exception", "list", "--tenant", tenant_id)
    assert app.address not in listed  # nothing approved

    # The org switch on: the accounts that use SMTP AUTH through it are named.
    sim.tenant(tenant_id).set_org_setting(False)
    follower = sim.tenant(tenant_id).mailbox_at(2)
    sim.add_sign_in(sign_in(follower.address, datetime.now(UTC) - timedelta(hours=2), client_app="SMTP"))
    code, out = run(capsys, "exception", "suggest", "--tenant", tenant_id, "--days", "3")
    assert code == 0 and "The organization switch has SMTP AUTH ON; 1 account(s)" in out
    assert f"#   {follower.address}: 1 SMTP AUTH sign-in(s)" in out

    sim.graph_premium = False
    code, out = run(capsys, "exception", "suggest", "--tenant", tenant_id)
    assert code == 2 and "nothing to suggest" in out and "unknown, not nobody" in out
