"""The drift rules, driven with plain values (no I/O)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.model import FindingKind, MailboxException, MailboxSetting, Observation, Status, TenantPolicy
from shared.core.policy import ExceptionIndex, evaluate, status_of

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TENANT = "contoso.onmicrosoft.com"


def mailbox(name: str, disabled: bool | None, guid: str | None = None) -> MailboxSetting:
    return MailboxSetting(
        guid=guid or str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        address=f"{name}@contoso.com",
        smtp_auth_disabled=disabled,
    )


def exception(
    mb: MailboxSetting, *, expires: date = date(2027, 1, 1), by_guid: bool = True, address: str | None = None
) -> MailboxException:
    return MailboxException(
        row_key=f"exception:{mb.guid}",
        mailbox=(address or mb.address).lower(),
        mailbox_guid=mb.guid if by_guid else None,
        reason="scanner",
        approver="ciso@contoso.com",
        expires=expires,
    )


def run(mailboxes, exceptions=(), org: bool = True, desired: bool = True, now: datetime = NOW):
    policy = TenantPolicy(TENANT, TENANT, desired_org_disabled=desired, exceptions=tuple(exceptions))
    return evaluate(policy, Observation(TENANT, org, len(mailboxes), tuple(mailboxes)), now)


def kinds(findings) -> list[tuple[str, str]]:
    return [(str(f.kind), f.target) for f in findings]


def test_compliant_tenant_has_no_findings():
    assert run([mailbox("a", None), mailbox("b", True)]) == ()


def test_org_switch_on_is_drift_with_the_fix():
    (finding,) = run([], org=False)
    assert finding.kind is FindingKind.ORG_SETTING_DRIFT
    assert (finding.actual, finding.desired) == (False, True)
    assert "Set-TransportConfig -SmtpClientAuthenticationDisabled $true" in finding.message


def test_desired_org_value_is_respected():
    assert run([], org=False, desired=False) == ()
    assert kinds(run([], org=True, desired=False)) == [("org-setting-drift", "organization")]


def test_null_override_follows_org_and_is_not_a_mailbox_finding():
    # Even with the org switch on, a null mailbox is covered by the org finding.
    assert kinds(run([mailbox("a", None)], org=False)) == [("org-setting-drift", "organization")]


def test_enabled_mailbox_without_exception():
    mb = mailbox("printer", False)
    (finding,) = run([mb])
    assert finding.kind is FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION
    assert finding.mailbox_guid == mb.guid
    assert f"Set-CASMailbox -Identity {mb.guid} -SmtpClientAuthenticationDisabled $true" in finding.message
    assert f"exception add --tenant {TENANT} --mailbox {mb.address}" in finding.message


def test_live_exception_matches_by_guid():
    mb = mailbox("printer", False)
    assert run([mb], [exception(mb)]) == ()


def test_address_only_exception_matches_case_insensitively():
    mb = mailbox("printer", False)
    assert run([mb], [exception(mb, by_guid=False, address="PRINTER@Contoso.COM")]) == ()


def test_guid_bound_exception_does_not_follow_a_reused_address():
    old = mailbox("printer", False)
    new = mailbox("printer", False, guid=str(uuid.uuid4()))
    findings = run([new], [exception(old)])
    assert kinds(findings) == [
        ("mailbox-enabled-without-exception", new.address),
        ("exception-unused", old.address),
    ]
    assert old.guid in findings[0].message  # says why the exception did not apply


def test_expired_exception_is_its_own_kind():
    mb = mailbox("printer", False)
    (finding,) = run([mb], [exception(mb, expires=date(2026, 11, 27))])
    assert finding.kind is FindingKind.MAILBOX_EXCEPTION_EXPIRED
    assert "2026-11-27" in finding.message and "ciso@contoso.com" in finding.message


def test_expiry_day_is_inclusive():
    mb = mailbox("printer", False)
    last_day = [exception(mb, expires=NOW.date())]
    assert run([mb], last_day) == ()
    assert kinds(run([mb], last_day, now=NOW + timedelta(days=1))) == [
        ("mailbox-exception-expired", mb.address)
    ]


def test_a_live_exception_wins_over_an_expired_one():
    mb = mailbox("printer", False)
    expired = exception(mb, expires=date(2026, 1, 1))
    live = exception(mb, by_guid=False)
    assert run([mb], [expired, live]) == ()


def test_unused_exceptions_are_hygiene_not_drift():
    gone = mailbox("gone", False)
    follows = mailbox("follows", None)
    off = mailbox("off", True)
    findings = run([follows, off], [exception(gone), exception(follows), exception(off)])
    assert {f.kind for f in findings} == {FindingKind.EXCEPTION_UNUSED}
    assert sorted(f.target for f in findings) == sorted([gone.address, follows.address, off.address])
    assert "no such mailbox" in next(f for f in findings if f.target == gone.address).message
    assert status_of(findings) is Status.COMPLIANT


def test_an_exception_riding_on_a_drifted_org_switch_is_not_unused():
    follows = mailbox("printer", None)
    assert kinds(run([follows], [exception(follows)], org=False)) == [("org-setting-drift", "organization")]


def test_two_rows_for_one_unused_mailbox_make_one_finding():
    mb = mailbox("a", None)
    assert len(run([mb], [exception(mb), exception(mb, expires=date(2027, 6, 1))])) == 1


def test_expired_unused_exception_is_not_reported():
    mb = mailbox("a", None)
    assert run([mb], [exception(mb, expires=date(2025, 1, 1))]) == ()


def test_status():
    assert status_of(run([mailbox("a", False)])) is Status.DRIFT
    assert status_of(()) is Status.COMPLIANT


def test_index_keeps_only_what_rules_need():
    listed = mailbox("listed", None)
    index = ExceptionIndex([exception(listed)])
    assert index.is_relevant(listed.guid, listed.address, None)
    assert index.is_relevant(str(uuid.uuid4()), "x@contoso.com", False)
    assert index.is_relevant(str(uuid.uuid4()), "x@contoso.com", True)
    assert not index.is_relevant(str(uuid.uuid4()), "x@contoso.com", None)


def test_live_index_covers_only_mailboxes_an_exception_holds_for_now():
    by_guid, by_address, lapsed, other = (mailbox(n, False) for n in ("guid", "addr", "lapsed", "other"))
    moved = mailbox("guid", False, guid=str(uuid.uuid4()))  # the address, reused by another mailbox
    live = ExceptionIndex.live(
        [
            exception(by_guid),
            exception(by_address, by_guid=False, address=by_address.address.upper()),
            exception(lapsed, expires=NOW.date() - timedelta(days=1)),
        ],
        NOW,
    )
    assert live.covers(by_guid) and live.covers(by_address)
    assert not live.covers(lapsed)  # expired yesterday
    assert not live.covers(moved)  # a GUID-bound approval does not follow its address
    assert not live.covers(other)
    assert [e.mailbox for e in live.exceptions] == [by_guid.address, by_address.address]
    # The expiry date is the last day the exception holds.
    assert ExceptionIndex.live([exception(lapsed, expires=NOW.date())], NOW).covers(lapsed)


# -- properties ------------------------------------------------------------------------

settings_values = st.sampled_from([None, True, False])


@st.composite
def tenants(draw):
    n = draw(st.integers(0, 25))
    mbs = [mailbox(f"m{i}", draw(settings_values)) for i in range(n)]
    excs = []
    for mb in mbs:
        if draw(st.booleans()):
            days = draw(st.integers(-10, 10))
            excs.append(
                exception(
                    mb,
                    expires=NOW.date() + timedelta(days=days),
                    by_guid=draw(st.booleans()),
                    address=mb.address.upper() if draw(st.booleans()) else None,
                )
            )
    excs += [exception(mailbox(f"gone{i}", False)) for i in range(draw(st.integers(0, 3)))]
    return mbs, excs, draw(st.booleans()), draw(st.booleans())


def expected_flagged(mbs, excs):
    flagged = {}
    for mb in mbs:
        if mb.smtp_auth_disabled is not False:
            continue
        matching = [
            e
            for e in excs
            if (e.mailbox_guid == mb.guid if e.mailbox_guid else e.mailbox == mb.address.lower())
        ]
        if not any(e.expires >= NOW.date() for e in matching):
            flagged[mb.address] = (
                FindingKind.MAILBOX_EXCEPTION_EXPIRED
                if matching
                else FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION
            )
    return flagged


@settings(max_examples=300, deadline=None)
@given(tenants())
def test_every_enabled_mailbox_without_live_exception_is_flagged_and_nothing_else(case):
    mbs, excs, org, desired = case
    findings = run(mbs, excs, org=org, desired=desired)
    mailbox_findings = {
        f.target: f.kind
        for f in findings
        if f.kind in (FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION, FindingKind.MAILBOX_EXCEPTION_EXPIRED)
    }
    assert mailbox_findings == expected_flagged(mbs, excs)
    org_findings = [f for f in findings if f.kind is FindingKind.ORG_SETTING_DRIFT]
    assert len(org_findings) == (org != desired)
    assert (status_of(findings) is Status.DRIFT) == bool(mailbox_findings or org != desired)


@settings(max_examples=200, deadline=None)
@given(tenants(), st.randoms(use_true_random=False))
def test_order_of_input_does_not_matter(case, rnd: random.Random):
    mbs, excs, org, desired = case
    shuffled_mbs, shuffled_excs = list(mbs), list(excs)
    rnd.shuffle(shuffled_mbs)
    rnd.shuffle(shuffled_excs)
    assert run(mbs, excs, org=org, desired=desired) == run(
        shuffled_mbs, shuffled_excs, org=org, desired=desired
    )


@settings(max_examples=200, deadline=None)
@given(tenants())
def test_approving_a_flagged_mailbox_clears_exactly_its_finding(case):
    mbs, excs, org, desired = case
    before = run(mbs, excs, org=org, desired=desired)
    flagged = [f for f in before if f.kind.is_compliance_failure and f.mailbox_guid]
    if not flagged:
        return
    target = next(mb for mb in mbs if mb.guid == flagged[0].mailbox_guid)
    after = run(mbs, [*excs, exception(target)], org=org, desired=desired)
    assert {f.key for f in after} == {f.key for f in before} - {flagged[0].key}


@settings(max_examples=200, deadline=None)
@given(tenants(), st.integers(0, 30))
def test_time_only_adds_expiry_findings(case, days):
    mbs, excs, org, desired = case
    now_keys = {f.key for f in run(mbs, excs, org=org, desired=desired) if f.kind.is_compliance_failure}
    later = run(mbs, excs, org=org, desired=desired, now=NOW + timedelta(days=days))
    later_keys = {f.key for f in later if f.kind.is_compliance_failure}
    # Drift never disappears with time alone; mailbox findings may turn into expired ones.
    assert {k.split(":", 1)[-1] for k in now_keys} <= {k.split(":", 1)[-1] for k in later_keys}
