"""Hostile desired state, written straight to Table Storage (as Storage Explorer, a
script or an attacker with the table's write role would): every broken row is named
in a clear error, its tenant is "could not check" and told, nothing is written to its
Exchange, and the other tenants go on. Rows that are odd but valid (an expiry in the
past, one in the far future) are data, not errors. (docs/reliability.md)"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core.model import FindingKind, Status
from shared.shell.cycle import run_cycle
from tests.integration.helpers import services
from tests.integration.notify_helpers import SENDER, TEAMS_SETTING, card_text

pytestmark = pytest.mark.usefixtures("app_env")

# Few examples, derandomised: the same cases on every CI run, in seconds.
FUZZ = settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CHOICES = ("Mode", "MailboxFix", "WhenEvidenceUnavailable")
VALID_CHOICES = {"report", "remediate", "disable", "org-default", "hold", "proceed"}
INT32 = st.integers(-(2**31), 2**31 - 1)  # what an entity's Int32 column holds
word = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30)
not_blank = word.filter(lambda t: t.strip() != "")
not_a_choice = not_blank.filter(lambda t: t.strip().lower() not in VALID_CHOICES)
not_a_bool = st.one_of(INT32, not_blank.filter(lambda t: t.strip().lower() not in ("true", "false")))
not_a_count = st.one_of(
    st.integers(-(2**31), -1),
    st.integers(min_value=100_000, max_value=2**31 - 1),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=False).filter(lambda f: math.isnan(f) or f != int(f)),
    not_blank.filter(lambda t: not t.strip().isdigit()),
)
not_an_address = st.one_of(INT32, not_blank.filter(lambda t: "@" not in t))
not_a_day = st.one_of(
    INT32,
    st.sampled_from(["2026-13-01", "2027-02-30", "31/12/2027", "tomorrow", "99999-01-01", "2027-1-1x"]),
)
MISSING = object()  # the column is left out

# (row, column, value): one break of an otherwise good tenant.
breaks = st.one_of(
    st.tuples(st.just("tenant"), st.sampled_from(CHOICES), st.one_of(not_a_choice, INT32, st.booleans())),
    st.tuples(
        st.just("tenant"), st.sampled_from(["SmtpClientAuthenticationDisabled", "Enabled"]), not_a_bool
    ),
    st.tuples(
        st.just("tenant"),
        st.sampled_from(["EvidenceDays", "MaxChangesPerRun", "IntervalMinutes"]),
        not_a_count,
    ),
    st.tuples(st.just("tenant"), st.just("InitialDomain"), st.one_of(st.just(MISSING), INT32, st.just(" "))),
    st.tuples(
        st.just("exception"),
        st.sampled_from(["Mailbox", "Approver"]),
        st.one_of(st.just(MISSING), not_an_address),
    ),
    st.tuples(st.just("exception"), st.just("Reason"), st.one_of(st.just(MISSING), st.just(" "), INT32)),
    st.tuples(st.just("exception"), st.just("Expires"), st.one_of(st.just(MISSING), not_a_day)),
    st.tuples(
        st.just("exception"), st.just("RowKey"), st.sampled_from(["exceptions", "Exception:x", "notes"])
    ),
)


def tenant_row(tenant: str, domain: str) -> dict[str, Any]:
    return {
        "PartitionKey": tenant,
        "RowKey": "tenant",
        "InitialDomain": domain,
        "Mode": "remediate",
        "GraceHours": 0,  # remediation at once, on the run under test
        "NotifyTeamsWebhookSetting": TEAMS_SETTING,
    }


def exception_row(
    tenant: str, mailbox: str, expires: str = "2099-01-01", key: str | None = None
) -> dict[str, Any]:
    return {
        "PartitionKey": tenant,
        "RowKey": key or f"exception:{uuid.uuid4()}",
        "Mailbox": mailbox,
        "Reason": "scan to mail",
        "Approver": "ciso@contoso.com",
        "Expires": expires,
    }


def broken(rows: dict[str, dict[str, Any]], row: str, column: str, value: Any) -> dict[str, dict[str, Any]]:
    entity = dict(rows[row])
    if value is MISSING:
        entity.pop(column, None)
    else:
        entity[column] = value
    return {**rows, row: entity}


def desired_table(app_env: dict[str, str]) -> TableClient:
    return TableClient.from_connection_string(
        app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_TABLE_PREFIX"] + "Desired"
    )


@pytest.fixture
def notify(sim, monkeypatch) -> None:
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)


@pytest.mark.usefixtures("notify")
@FUZZ
@given(hostile=st.lists(breaks, min_size=3, max_size=6))
async def test_hostile_rows_are_named_and_stop_only_their_tenant(sim, app_env, tenant_id, hostile):
    sim.reset_records()
    async with services() as svc:  # the tables exist, as in a running deployment
        pass
    victims: dict[str, tuple[str, str]] = {}
    bystander = tenant_id  # the identity's own tenant: the one it can read
    with desired_table(app_env) as table:
        for row, column, value in hostile:
            tenant = str(uuid.uuid4())
            domain = f"v{tenant[:8]}.onmicrosoft.com"
            sim.add_tenant(tenant, domain, org_smtp_auth_disabled=False).seed(3, overrides={1: False})
            rows = {
                "tenant": tenant_row(tenant, domain),
                "exception": exception_row(tenant, f"user00002@{domain}"),
            }
            for entity in broken(rows, row, column, value).values():
                table.upsert_entity(entity)
            victims[tenant] = (domain, column)
        # A healthy tenant beside them, with odd but valid rows: an exception that
        # expired yesterday-long-ago and one that runs to the far future.
        domain = f"b{bystander[:8]}.onmicrosoft.com"
        if any(t.tenant_id == bystander for t in sim.tenants):
            sim.remove_tenant(bystander)  # an earlier example's: seeded afresh
        good = sim.add_tenant(bystander, domain, org_smtp_auth_disabled=False)
        good.seed(4, overrides={1: False, 2: False})
        table.upsert_entity(tenant_row(bystander, domain))
        table.upsert_entity(exception_row(bystander, f"user00001@{domain}", "2001-01-01", "exception:old"))
        table.upsert_entity(exception_row(bystander, f"user00002@{domain}", "9999-12-31", "exception:far"))

    async with services() as svc:
        results = {r.tenant_id: r for r in (await run_cycle(svc)).results}

    for tenant, (domain, column) in victims.items():
        result = results[tenant]
        assert result.status is Status.ERROR, (column, result)
        assert "Exchange" not in result.error, (column, hostile, result.error)  # refused at the row
        assert (f"tenant {tenant!r}, row " in result.error and repr(column) in result.error) or (
            (column == "RowKey" and "'tenant' row" in result.error) or "RowKey" in result.error
        ), result.error
        assert result.remediation is None
        told = [card_text(p.card) for p in sim.teams_posts]
        assert sum("Could not check SMTP AUTH in" in t and (domain in t or tenant in t) for t in told) == 1
    victim_writes = [c for c in sim.set_calls if c.tenant in victims]
    assert victim_writes == []
    # The bystander was checked and fixed: the org switch, and the expired exception's mailbox.
    ok = results[bystander]
    assert ok.status is Status.COMPLIANT, ok
    assert {f.kind for f in ok.fixed} == {
        FindingKind.ORG_SETTING_DRIFT,
        FindingKind.MAILBOX_EXCEPTION_EXPIRED,
    }
    for tenant in victims:
        sim.remove_tenant(tenant)


@pytest.mark.parametrize(
    "key", ["exception:a/b", "exception:a\\b", "exception:a#b", "exception:a?b", "exception:a\x07b"]
)
async def test_keys_table_storage_forbids_never_reach_a_check(sim, app_env, tenant_id, key):
    domain = "keys.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False).seed(3)
    async with services() as svc:
        pass
    with desired_table(app_env) as table:
        table.upsert_entity(tenant_row(tenant_id, domain))
        try:
            table.upsert_entity(exception_row(tenant_id, f"user00001@{domain}", key=key))
            stored = True
        except HttpResponseError:
            stored = False  # Table Storage refused it: nothing written
    async with services() as svc:
        (result,) = (await run_cycle(svc, tenant_id)).results
    # Table Storage refuses the key (nothing written) and the tenant is checked on what
    # is stored; were one ever stored, the row loader would have to name it.
    assert not stored and result.status is Status.COMPLIANT and result.error is None  # its org drift fixed


async def test_a_partition_key_cannot_forge_a_log_line(sim, app_env, caplog):
    # Table Storage refuses control characters in keys, not bidi overrides; any other
    # column may hold anything.
    forged = "moc.oc\u202etnetnoc"
    async with services() as svc:
        pass
    with desired_table(app_env) as table:
        table.upsert_entity(
            {"PartitionKey": forged, "RowKey": "tenant", "Mode": "x\n2026-12-01 INFO all clear\x1b[0m"}
        )
    caplog.set_level(logging.INFO, logger="shared")
    async with services() as svc:
        results = (await run_cycle(svc)).results
    assert any(r.status is Status.ERROR for r in results)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("shared.shell.engine")]
    assert lines and all(not any(c in m for c in "\n\x1b\u202e") for m in lines), lines
