"""The CLI writes only rows the checker accepts: whatever an admin types, either the
row loader reads back exactly what was meant, or the command refuses in one line
naming the option and the table is left as it was. Hypothesis drives the CLI's
handler in-process against Azurite (and the simulator, for exception add)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core.limits import EXCEPTION_DAYS, MAILBOX_FIX
from shared.core.model import EvidencePolicy, MailboxException, Mode, TenantPolicy
from shared.core.validation import split_addresses
from shared.shell.settings import Settings
from shared.store.desired import DesiredStateStore
from shared.store.rows import exception_row_key
from shared.store.tables import TableNames, service_client
from tests.integration.test_cli_admin import cli, desired_rows

pytestmark = pytest.mark.usefixtures("app_env")
DOMAIN = "writes.onmicrosoft.com"
SECRET = "s3cr3tSig"
PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Text as a terminal can pass it (no NUL), sometimes far over any limit.
junk = st.one_of(
    st.text(st.characters(blacklist_characters="\x00"), max_size=40),
    st.integers(1000, 100_000).map(lambda n: "x" * n),
)
address = st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z0-9-]{1,20}\.(com|org|onmicrosoft\.com)", fullmatch=True)
webhook = st.just(f"https://prod-01.westeurope.logic.azure.com/workflows/1/triggers/manual?sig={SECRET}")


def mostly_valid(good: dict, bad: dict) -> st.SearchStrategy[dict]:
    """Inputs that are all valid, or valid but for one field (so both halves of the
    property are exercised often, not only the refusals)."""
    valid = st.fixed_dictionaries(good)
    spoiled = st.tuples(valid, st.sampled_from(sorted(bad))).flatmap(
        lambda pair: bad[pair[1]].map(lambda value: {**pair[0], pair[1]: value})
    )
    return valid | spoiled


async def load(tenant: str) -> TenantPolicy | None:
    """What the next run reads for the tenant (None: nothing, or a malformed row)."""
    env = Settings.from_env()
    async with service_client(env.storage, None) as tables:
        store = DesiredStateStore(tables.get_table_client(TableNames.with_prefix(env.table_prefix).desired))
        loads = await store.load(tenant)
    assert all(load.ok for load in loads), loads
    return loads[0].policy if loads else None


def loaded(tenant: str) -> TenantPolicy | None:
    return asyncio.run(load(tenant))


def refused_cleanly(out, app_env, before) -> None:
    """Exit 2, one line naming an option, no traceback, no secret, nothing written."""
    assert out.code == 2, out
    last = out.err.strip().splitlines()[-1]
    assert last.startswith(("error: --", "error: no ", "smtp-auth-guard tenant add: error: argument --",
                            "smtp-auth-guard tenant set: error: argument --",
                            "smtp-auth-guard exception add: error: argument --")), last  # fmt: skip
    assert "Traceback" not in out.err and SECRET not in out.err + out.out
    assert desired_rows(app_env) == before


# -- tenant add ----------------------------------------------------------------------

tenant_inputs = mostly_valid(
    {
        "domain": st.sampled_from([DOMAIN, " Writes.OnMicrosoft.com "]),
        "mode": st.sampled_from(["report", "remediate"]),
        "emails": st.lists(address | address.map(lambda a: f" {a};{a.upper()} "), max_size=3),
        "teams": st.none() | st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True),
        "fix": st.sampled_from(list(MAILBOX_FIX)),
        "evidence": st.integers(1, 30).map(str),
        "max_changes": st.integers(0, 1000).map(str),
    },
    {
        "domain": junk,
        "mode": st.sampled_from(["Report", "fix", ""]),
        "emails": st.lists(junk | webhook, min_size=1, max_size=3)
        | st.lists(address, min_size=40, max_size=60),  # together over the column's limit
        "teams": junk | webhook,
        "fix": st.sampled_from(["off", "Disable"]),
        "evidence": st.sampled_from(["0", "31", "-1", "7.5"]) | junk,
        "max_changes": st.sampled_from(["-1", "1001"]) | junk,
    },
)


def tenant_argv(tenant: str, given: dict) -> list[str]:
    argv = ["tenant", "add", f"--tenant={tenant}", f"--domain={given['domain']}", f"--mode={given['mode']}"]
    argv += [f"--notify-email={e}" for e in given["emails"]]
    argv += [f"--teams-webhook-setting={given['teams']}"] if given["teams"] is not None else []
    argv += [f"--mailbox-fix={given['fix']}", f"--evidence-days={given['evidence']}"]
    return [*argv, f"--max-changes={given['max_changes']}"]


def meant(tenant: str, given: dict) -> TenantPolicy:
    """What the admin meant, read independently of the CLI's own parsing."""
    return TenantPolicy(
        tenant_id=tenant,
        initial_domain=given["domain"].strip().lower(),
        mode=Mode(given["mode"]),
        notify_email=tuple(a for e in given["emails"] for a in split_addresses(e)),
        notify_teams_setting=None if given["teams"] is None else given["teams"].strip(),
        mailbox_fix_value=MAILBOX_FIX[given["fix"]],
        evidence_days=int(given["evidence"]),
        when_evidence_unavailable=EvidencePolicy.HOLD,
        max_changes_per_run=int(given["max_changes"]),
    )


def test_tenant_add_writes_what_loads_back_or_nothing(app_env):
    accepted = []

    @PROPERTY
    @given(tenant_inputs)
    def one(given: dict) -> None:
        tenant = str(uuid.uuid4())
        before = desired_rows(app_env)
        out = cli(*tenant_argv(tenant, given))
        if out.code == 0:
            accepted.append(tenant)
            assert loaded(tenant) == meant(tenant, given)
            cli("tenant", "remove", "--tenant", tenant)  # the next example may use the domain
        else:
            refused_cleanly(out, app_env, before)

    one()
    assert accepted  # the property says something about accepted rows too


# -- tenant set ----------------------------------------------------------------------

SET_GOOD = {
    "--mode": st.sampled_from(["report", "remediate"]),
    "--notify-email": st.lists(address, min_size=1, max_size=3).map(";".join),
    "--teams-webhook-setting": st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True),
    "--evidence-days": st.integers(1, 30).map(str),
    "--max-changes": st.integers(0, 1000).map(str),
    "--grace-hours": st.integers(0, 720).map(str),
    "--mailbox-fix": st.sampled_from(list(MAILBOX_FIX)),
    "--when-evidence-unavailable": st.sampled_from([p.value for p in EvidencePolicy]),
    "--domain": st.sampled_from([DOMAIN, "Other.OnMicrosoft.com"]),
}
SET_BAD = {
    "--mode": junk | webhook,
    "--notify-email": junk | webhook | st.lists(address, min_size=40, max_size=60).map(";".join),
    "--teams-webhook-setting": junk | webhook,
    "--evidence-days": st.sampled_from(["0", "31"]) | junk,
    "--max-changes": st.sampled_from(["-1", "1001"]) | junk,
    "--grace-hours": st.sampled_from(["-1", "721", "1.5"]) | junk,
    "--mailbox-fix": junk,
    "--when-evidence-unavailable": junk,
    "--domain": junk,
}
set_inputs = st.sets(st.sampled_from(sorted(SET_GOOD)), min_size=1, max_size=4).flatmap(
    lambda options: mostly_valid({o: SET_GOOD[o] for o in options}, {o: SET_BAD[o] for o in options})
)
FIELDS = {
    "--mode": ("mode", Mode),
    "--notify-email": ("notify_email", split_addresses),
    "--teams-webhook-setting": ("notify_teams_setting", str.strip),
    "--evidence-days": ("evidence_days", int),
    "--max-changes": ("max_changes_per_run", int),
    "--grace-hours": ("grace_hours", int),
    "--mailbox-fix": ("mailbox_fix_value", MAILBOX_FIX.__getitem__),
    "--when-evidence-unavailable": ("when_evidence_unavailable", EvidencePolicy),
    "--domain": ("initial_domain", lambda text: text.strip().lower()),
}


def test_tenant_set_changes_what_it_is_given_or_nothing(app_env, tenant_id):
    base = ["--domain", DOMAIN, "--notify-email", "secops@contoso.com", "--max-changes", "5"]
    assert cli("tenant", "add", "--tenant", tenant_id, *base).code == 0
    accepted = []

    @PROPERTY
    @given(set_inputs)
    def one(options: dict) -> None:
        before_policy = loaded(tenant_id)
        before = desired_rows(app_env)
        out = cli("tenant", "set", "--tenant", tenant_id, *(f"{k}={v}" for k, v in options.items()))
        if out.code == 0:
            accepted.append(options)
            changes = {FIELDS[k][0]: FIELDS[k][1](v) for k, v in options.items()}
            assert loaded(tenant_id) == replace(before_policy, **changes)
        else:
            refused_cleanly(out, app_env, before)

    one()
    assert accepted


# -- exception add -------------------------------------------------------------------

today = datetime.now(UTC).date()
exception_inputs = mostly_valid(
    {
        "reason": st.sampled_from(["MFP scan to mail", "  LOB app (payroll)  "])
        | st.text(min_size=1, max_size=30),
        "approver": address,
        "ticket": st.none() | st.just("") | st.text(max_size=30),
        "expires": st.dates(today, today + timedelta(days=EXCEPTION_DAYS.default)),
    },
    {
        "reason": junk,
        "approver": junk,
        "ticket": st.integers(1025, 100_000).map(lambda n: "T" * n),
        "expires": st.dates(today - timedelta(days=400), today - timedelta(days=1))
        | st.dates(today + timedelta(days=EXCEPTION_DAYS.default + 1), date(9999, 12, 31)),
    },
)


def test_exception_add_writes_what_loads_back_or_nothing(app_env, sim, tenant_id):
    sim.add_tenant(tenant_id, DOMAIN).seed(3)
    mailbox = sim.tenant(tenant_id).mailbox_at(1)
    assert (
        cli(
            "tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN, "--notify-email", "a@contoso.com"
        ).code
        == 0
    )
    accepted = []

    @PROPERTY
    @given(exception_inputs)
    def one(given: dict) -> None:
        before = desired_rows(app_env)
        argv = ["exception", "add", f"--tenant={tenant_id}", f"--mailbox={mailbox.address}",
                f"--reason={given['reason']}", f"--approver={given['approver']}",
                f"--expires={given['expires'].isoformat()}"]  # fmt: skip
        argv += [f"--ticket={given['ticket']}"] if given["ticket"] is not None else []
        out = cli(*argv)
        if out.code == 0:
            accepted.append(given)
            (exc,) = loaded(tenant_id).exceptions
            assert exc == MailboxException(
                row_key=exception_row_key(mailbox.guid, mailbox.address),
                mailbox=mailbox.address.lower(),
                mailbox_guid=mailbox.guid.lower(),
                reason=given["reason"].strip(),
                approver=given["approver"].strip(),
                ticket=(given["ticket"] or "").strip() or None,
                expires=given["expires"],
            )
        else:
            refused_cleanly(out, app_env, before)

    one()
    assert accepted


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--reason", "x" * 100_000, "error: argument --reason: must be at most 1024 characters, got 100000"),
        ("--ticket", "T" * 1025, "error: argument --ticket: must be at most 1024 characters, got 1025"),
        ("--expires", "9999-12-31", "error: --expires 9999-12-31 is more than 730 days away (SMTPAUTH_MAX_EXCEPTION_DAYS)"),
        ("--reason", "bad \udcff byte", "error: argument --reason: must be valid UTF-8 text"),
    ],
)  # fmt: skip
def test_exception_add_names_the_option_and_the_limit(app_env, sim, tenant_id, option, value, message):
    sim.add_tenant(tenant_id, DOMAIN).seed(2)
    cli("tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN)
    given = {
        "--reason": "scanner",
        "--ticket": "CHG-1",
        "--expires": (today + timedelta(days=30)).isoformat(),
        option: value,
    }
    before = desired_rows(app_env)
    out = cli("exception", "add", "--tenant", tenant_id, "--mailbox", sim.tenant(tenant_id).mailbox_at(1).address,
              "--approver", "ciso@contoso.com", *(f"{k}={v}" for k, v in given.items()))  # fmt: skip
    assert out.code == 2 and message in out.err, out.err
    assert desired_rows(app_env) == before


def test_the_longest_lifetime_is_a_setting(app_env, sim, tenant_id, monkeypatch):
    sim.add_tenant(tenant_id, DOMAIN).seed(2)
    cli("tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN)
    monkeypatch.setenv("SMTPAUTH_MAX_EXCEPTION_DAYS", "30")
    argv = ["exception", "add", "--tenant", tenant_id, "--mailbox", sim.tenant(tenant_id).mailbox_at(1).address,
            "--reason", "r", "--approver", "a@contoso.com", "--expires"]  # fmt: skip
    too_far = cli(*argv, (today + timedelta(days=31)).isoformat())
    assert too_far.code == 2 and "more than 30 days away" in too_far.err
    assert cli(*argv, (today + timedelta(days=30)).isoformat()).code == 0
    monkeypatch.setenv("SMTPAUTH_MAX_EXCEPTION_DAYS", "0")
    bad = cli(*argv, (today + timedelta(days=1)).isoformat())
    assert bad.code == 2 and "SMTPAUTH_MAX_EXCEPTION_DAYS must be a whole number from 1 to 3650" in bad.err


def test_a_webhook_url_where_its_settings_name_belongs_is_never_stored_or_echoed(app_env, tenant_id):
    url = f"https://prod-01.westeurope.logic.azure.com/workflows/1?sig={SECRET}"
    for argv in (["tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN, "--teams-webhook-setting", url],
                 ["tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN, "--notify-email", url]):  # fmt: skip
        out = cli(*argv)
        assert out.code == 2 and SECRET not in out.err + out.out
    assert desired_rows(app_env) == []
    cli("tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN)
    before = desired_rows(app_env)
    out = cli("tenant", "set", "--tenant", tenant_id, "--teams-webhook-setting", url)
    assert out.code == 2 and "NAME of an app setting" in out.err and SECRET not in out.err
    assert desired_rows(app_env) == before


def test_a_notify_list_too_long_for_the_row_is_refused_before_table_storage(app_env, tenant_id):
    addresses = ";".join(
        f"user{n:05d}@contoso.onmicrosoft.com" for n in range(3000)
    )  # about 100,000 characters
    out = cli("tenant", "add", "--tenant", tenant_id, "--domain", DOMAIN, "--notify-email", addresses)
    assert out.code == 2
    assert out.err.startswith("error: --notify-email: must be at most 1024 characters")
    assert "PropertyValueTooLarge" not in out.err
    assert desired_rows(app_env) == []
