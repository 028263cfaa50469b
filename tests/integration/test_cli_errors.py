"""Bad settings and dead services, as an admin meets them: the CLI as a separate
process, one line that names what to fix, exit 2, never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.usefixtures("app_env")

KEY = "c2VjcmV0LWtleS1uZXZlci1zaG93bg=="  # a made-up account key that must never be echoed


def cli(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    merged = os.environ.copy()
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return subprocess.run(
        [sys.executable, "-m", "shared", *args],
        capture_output=True,
        text=True,
        env=merged,
        timeout=120,
        check=False,
    )


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tenant(sim, tenant_id):
    t = sim.add_tenant(tenant_id, "errors.onmicrosoft.com")
    t.seed(20)
    assert cli("tenant", "add", "--tenant", tenant_id, "--domain", "errors.onmicrosoft.com").returncode == 0
    return t


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "not a connection string",
            "AzureWebJobsStorage must be UseDevelopmentStorage=true or Name=value pairs",
        ),
        (f"AccountKey={KEY}", "AzureWebJobsStorage must name AccountName and AccountKey"),
        (f"AccountName=a;AccountKey={KEY};accountname=b", "AzureWebJobsStorage names 'accountname' twice"),
        # Plain http to another machine: the key would sign requests sent in clear.
        (
            f"AccountName=guard;AccountKey={KEY};TableEndpoint=http://192.0.2.10:10002/guard",
            "AzureWebJobsStorage has a table endpoint that must be an https:// URL",
        ),
        (
            f"DefaultEndpointsProtocol=http;AccountName=guard;AccountKey={KEY};EndpointSuffix=core.windows.net",
            "got 'http://guard.table.core.windows.net'",
        ),
    ],
)
def test_a_malformed_storage_connection_is_one_line_that_never_shows_the_key(value, message):
    line = one_error_line(cli("tenant", "list", env={"AzureWebJobsStorage": value}))
    assert message in line
    assert KEY not in line


def test_identity_endpoint_over_plain_http_to_another_host_is_refused():
    line = one_error_line(
        cli("tenant", "list", env={"IDENTITY_ENDPOINT": "http://192.0.2.10:8081/msi/token"})
    )
    assert "IDENTITY_ENDPOINT must be an https:// URL (plain http:// only for loopback hosts)" in line


def test_identity_endpoint_without_its_header_is_a_clear_error_not_a_credential_chain():
    out = cli("tenant", "list", env={"IDENTITY_HEADER": None})
    line = one_error_line(out)
    assert "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not" in line
    assert "DefaultAzureCredential" not in out.stderr


def test_a_home_tenant_that_is_not_a_guid_or_domain_names_the_setting():
    line = one_error_line(cli("tenant", "list", env={"SMTPAUTH_HOME_TENANT": "contoso"}))
    assert "SMTPAUTH_HOME_TENANT must be a tenant GUID or a domain, got 'contoso'" in line


def test_a_setting_a_command_does_not_need_is_a_warning_not_a_stop(tenant, tenant_id):
    bad = {"SMTPAUTH_DIGEST_SCHEDULE": "every monday", "SMTPAUTH_REMINDER_HOURS": "soon"}
    listed = cli("tenant", "list", env=bad)
    assert listed.returncode == 0, listed.stderr
    assert tenant_id in listed.stdout
    # (tenant list also warns that the tenant has no notification target: not a setting)
    warnings = [w for w in listed.stderr.splitlines() if "no notification target" not in w]
    assert len(warnings) == 2 and all(w.startswith("warning: SMTPAUTH_") for w in warnings)
    assert "not used by this command" in warnings[0]
    # check queues notifications, so the reminder setting is its business: refused.
    line = one_error_line(cli("check", "--tenant", tenant_id, env={"SMTPAUTH_REMINDER_HOURS": "soon"}))
    assert "SMTPAUTH_REMINDER_HOURS must be a number" in line
    # No command runs the timers: a bad schedule never stops one.
    checked = cli("check", "--tenant", tenant_id, env={"SMTPAUTH_DIGEST_SCHEDULE": "every monday"})
    assert checked.returncode == 0, checked.stderr


def test_table_storage_that_does_not_answer_is_named():
    port = closed_port()
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    line = one_error_line(cli("tenant", "list", env={"AzureWebJobsStorage": conn}))
    assert line.startswith("error: could not reach Table Storage at AzureWebJobsStorage: ")
    assert KEY not in line


def test_exchange_that_does_not_answer_is_named_with_its_setting(tenant, tenant_id):
    dead = {"SMTPAUTH_EXCHANGE_URL": f"http://127.0.0.1:{closed_port()}"}
    checked = cli("check", "--tenant", tenant_id, env=dead)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert "COULD NOT CHECK: could not reach Exchange Online at SMTPAUTH_EXCHANGE_URL: " in checked.stdout
    added = cli(
        "exception", "add", "--tenant", tenant_id, "--mailbox", tenant.mailbox_at(1).address,
        "--reason", "r", "--approver", "a@contoso.com", "--expires", (date.today() + timedelta(days=90)).isoformat(), env=dead,
    )  # fmt: skip
    assert one_error_line(added).startswith(
        "error: could not reach Exchange Online at SMTPAUTH_EXCHANGE_URL: "
    )
    assert "no exceptions" in cli("exception", "list", "--tenant", tenant_id).stdout


def test_a_closed_identity_endpoint_is_named_and_fails_fast(tenant, tenant_id):
    endpoint = f"http://127.0.0.1:{closed_port()}/msi/token"
    started = time.monotonic()
    out = cli("check", "--tenant", tenant_id, env={"IDENTITY_ENDPOINT": endpoint})
    elapsed = time.monotonic() - started
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        "could not get a token for Exchange Online from the identity: could not reach the managed "
        f"identity endpoint at IDENTITY_ENDPOINT ({endpoint})"
    ) in out.stdout
    assert "get_token" not in out.stderr  # azure-identity's own warnings repeat it
    assert elapsed < 30  # azure-identity's defaults and the Exchange retry made it ~26 s


def test_an_identity_endpoint_that_never_answers_is_given_up_after_two_reads(sim, tenant, tenant_id):
    sim.reset_records()
    sim.faults.slow(60, service="identity")  # never answers within the read timeout
    started = time.monotonic()
    out = cli("check", "--tenant", tenant_id)
    elapsed = time.monotonic() - started
    assert out.returncode == 2
    assert "could not reach the managed identity endpoint at IDENTITY_ENDPOINT" in out.stdout
    assert sim.token_requests == 2  # one read, one retry: not ten, and Exchange does not ask again
    assert elapsed < 30  # about 10 s (two 5 s reads); the defaults waited 300 s a read


def test_ctrl_c_ends_with_one_line_and_exit_130(sim, tenant, tenant_id):
    sim.reset_records()
    sim.faults.slow(60)  # Exchange never answers: the check is blocked on it
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared", "check", "--tenant", tenant_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        # Blocked on Exchange: this process's own request is held by the fault (a count
        # of token requests could be another test's late one, and a signal sent while
        # the CLI still imports would be a traceback, not the one line).
        while not sim.faults.fired.get("slow"):
            assert time.monotonic() < deadline, "the check never reached Exchange"
            assert proc.poll() is None, "the check ended before it reached Exchange"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert stderr.splitlines() == ["error: interrupted"]
    assert stdout == ""
