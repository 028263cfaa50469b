"""Sign-in evidence against the simulator's Graph: both SMTP client apps count, Graph's
throttling is waited out, and a read that cannot finish is "unknown", never "nobody"."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.credentials import managed_identity
from shared.adapters.signins import EvidenceReader
from shared.core.model import ActionStatus, EvidencePolicy, Mode
from shared.shell.engine import check_tenants
from sim.graph_signins import sign_in
from sim.rate_limit import RateLimit

from .helpers import monitor, services

pytestmark = pytest.mark.usefixtures("app_env")
# GraceHours 0: these tests are about the other guard rails (the grace: test_grace_period.py).
REMEDIATE = {"mode": Mode.REMEDIATE, "grace_hours": 0}


def statuses(result):
    return {r.action.target: r.status for r in result.remediation.results}


def written(sim, tenant_id):
    return [r for r in sim.set_calls if r.tenant == tenant_id and r.status == 200]


def sign_in_replies(sim) -> list[int]:
    return [r.status for r in sim.requests if r.cmdlet == "signIns"]


def log_app_sign_ins(sim, count: int, newest: datetime) -> None:
    """`count` successful SMTP sign-ins of accounts without a mailbox, newest first
    from `newest`: enough of them fill pages ahead of the ones a test looks for."""
    for i in range(count):
        sim.add_sign_in(sign_in(f"app{i:05d}@contoso.com", newest - timedelta(seconds=i), client_app="SMTP"))


@asynccontextmanager
async def reader(sim, tenant_id: str, budget_s: float) -> AsyncIterator[EvidenceReader]:
    """The product's reader with the managed identity, as the runtime builds it."""
    async with managed_identity(None) as credential:
        evidence = EvidenceReader(tenant_id, credential, sim.url, budget_s=budget_s)
        try:
            yield evidence
        finally:
            await evidence.close()


async def test_a_mailbox_whose_sign_ins_are_logged_as_smtp_is_held(sim, tenant_id):
    domain = "smtp-app.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(20, overrides={3: False, 4: False})
    printer, rogue = tenant.mailbox_at(3), tenant.mailbox_at(4)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    sim.add_sign_in(sign_in(printer.address, yesterday, ip_address="192.0.2.77", client_app="SMTP"))
    sim.add_sign_in(sign_in(rogue.address, yesterday, client_app="SMTP", error_code=50126))  # a spray
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)

    assert statuses(result) == {printer.address: ActionStatus.HELD, rogue.address: ActionStatus.APPLIED}
    held = next(r for r in result.remediation.results if r.status is ActionStatus.HELD)
    assert "192.0.2.77" in held.reason
    (request,) = [r for r in sim.requests if r.cmdlet == "signIns"]
    assert "(clientAppUsed eq 'Authenticated SMTP' or clientAppUsed eq 'SMTP')" in request.query["$filter"]
    assert [(r.parameters or {}).get("Identity") for r in written(sim, tenant_id)] == [rogue.guid]


async def test_throttled_pages_are_read_after_the_retry_after(sim, tenant_id):
    now = datetime.now(UTC)
    log_app_sign_ins(sim, 3500, now - timedelta(minutes=1))  # 4 pages
    sim.add_sign_in(sign_in("oldest@contoso.com", now - timedelta(days=20)))  # last page
    sim.sign_in_rate_limit = RateLimit(requests=2, window_s=1.0)

    async with reader(sim, tenant_id, budget_s=10.0) as evidence_reader:  # room for the waits
        evidence = await evidence_reader.read(now, 30)

    assert evidence.available, evidence.problem
    assert len(evidence.sign_ins) == 3501 and evidence.sign_ins[-1].user == "oldest@contoso.com"
    replies = sign_in_replies(sim)
    assert 429 in replies and replies.count(200) == 4


async def test_a_read_that_cannot_finish_in_its_budget_is_unavailable(sim, tenant_id):
    now = datetime.now(UTC)
    log_app_sign_ins(sim, 5500, now)  # 6 pages at one request a second: more than the 1.5 s budget
    sim.sign_in_rate_limit = RateLimit(requests=1, window_s=1.0)

    started = time.monotonic()
    async with reader(sim, tenant_id, budget_s=1.5) as evidence_reader:
        evidence = await evidence_reader.read(now, 30)

    assert time.monotonic() - started < 3
    assert not evidence.available and evidence.sign_ins == ()
    assert "not read within 1.5 s" in evidence.problem
    assert sign_in_replies(sim).count(200) < 6


async def test_throttled_past_every_retry_holds_remediation(sim, tenant_id):
    """Page 2 is throttled for longer than kiota will wait (180 s or more): the read
    stops, and the first page alone must not count as the whole log."""
    domain = "throttled.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(20, overrides={5: False})
    printer = tenant.mailbox_at(5)
    now = datetime.now(UTC)
    log_app_sign_ins(sim, 1000, now)  # page 1
    sim.add_sign_in(sign_in(printer.address, now - timedelta(days=3)))  # page 2
    sim.sign_in_rate_limit = RateLimit(requests=1, window_s=600.0)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, when_evidence_unavailable=EvidencePolicy.HOLD, **REMEDIATE)
        (result,) = await check_tenants(svc)

    assert statuses(result) == {printer.address: ActionStatus.HELD}
    assert "429" in result.remediation.note and "held" in result.remediation.note
    assert written(sim, tenant_id) == [] and tenant.mailbox_at(5).smtp_auth_disabled is False
    assert sign_in_replies(sim) == [200, 429]
