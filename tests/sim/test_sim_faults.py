"""Faults fire for exactly the requests they were armed for, then disappear."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sim import SimServer
from sim.faults import CONCURRENT_LIMIT_MESSAGE
from tests.sim.exo_http import ExoClient, http
from tests.sim.test_sim_batch import batch_headers, batch_url, item

ALL = {"ResultSize": "Unlimited"}


def statuses(exo: ExoClient, n: int, cmdlet: str = "Get-TransportConfig") -> list[int]:
    return [exo.invoke(cmdlet).status for _ in range(n)]


def test_throttle_with_retry_after(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.throttle(times=2, retry_after=3)

    first = exo.invoke("Get-TransportConfig")
    assert first.status == 429
    assert first.headers["Retry-After"] == "3"
    assert first.json["error"]["details"][0]["message"]
    assert statuses(exo, 3) == [429, 200, 200]
    assert fresh_sim.faults.fired == {"throttle": 2}
    assert fresh_sim.faults.pending == []


def test_throttle_without_retry_after(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.throttle_without_retry_after(times=1)

    reply = exo.invoke("Get-TransportConfig")
    assert reply.status == 429
    assert reply.headers.get("Retry-After") is None
    assert statuses(exo, 1) == [200]


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (504, None), (503, 2)])
def test_unavailable(fresh_sim: SimServer, exo: ExoClient, status: int, retry_after: int | None) -> None:
    fresh_sim.faults.unavailable(times=1, status=status, retry_after=retry_after)

    reply = exo.invoke("Get-TransportConfig")
    assert reply.status == status
    assert reply.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
    assert statuses(exo, 1) == [200]


@pytest.mark.parametrize("status", [429, 503])
def test_concurrent_limit(fresh_sim: SimServer, exo: ExoClient, status: int) -> None:
    fresh_sim.faults.concurrent_limit(times=2, status=status)

    reply = exo.invoke("Get-TransportConfig")
    assert reply.status == status
    assert reply.headers.get("Retry-After") is None
    assert reply.useful_message == CONCURRENT_LIMIT_MESSAGE
    assert CONCURRENT_LIMIT_MESSAGE in reply.raw.decode()
    assert statuses(exo, 2) == [status, 200]


def test_throttle_on_the_third_page_only(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.throttle(times=1, retry_after=0, only_paged=True, after=1)

    first = exo.invoke("Get-CASMailbox", ALL, select="Guid")
    second = exo.invoke("Get-CASMailbox", ALL, url=first.json["@odata.nextLink"])
    link = second.json["@odata.nextLink"]
    third = exo.invoke("Get-CASMailbox", ALL, url=link)
    retried = exo.invoke("Get-CASMailbox", ALL, url=link)

    assert [first.status, second.status, third.status, retried.status] == [200, 200, 429, 200]
    assert third.headers["Retry-After"] == "0"
    assert len(retried.json["value"]) == 500


def test_fault_for_one_cmdlet(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.throttle(times=1, cmdlet="set-casmailbox")
    guid = exo.tenant.mailbox_at(0).guid

    assert statuses(exo, 2, "Get-TransportConfig") == [200, 200]
    set_params = {"Identity": guid, "SmtpClientAuthenticationDisabled": True}
    assert exo.invoke("Set-CASMailbox", set_params).status == 429
    assert exo.tenant.mailbox(guid).smtp_auth_disabled is None  # type: ignore[union-attr]
    assert exo.invoke("Set-CASMailbox", set_params).status == 200
    assert [c.status for c in fresh_sim.set_calls] == [429, 200]


def test_fault_for_one_tenant_leaves_the_others_alone(
    fresh_sim: SimServer, exo: ExoClient, exchange_token: str
) -> None:
    other = fresh_sim.add_tenant("0e2c4a6b-8d1f-4e3a-9b5c-7d9f1a3b5c7e", "other.onmicrosoft.com")
    other.seed(3)
    # A token names one tenant: the other tenant's calls carry one issued there.
    other_exo = ExoClient(fresh_sim, other, fresh_sim.issue_token(tenant=other.tenant_id))
    fresh_sim.faults.throttle(times=None, retry_after=0, tenant=exo.tenant.tenant_id.upper())

    assert statuses(exo, 3) == [429, 429, 429]  # until cleared
    assert statuses(other_exo, 2) == [200, 200]
    assert fresh_sim.faults.fired == {"throttle": 3}


def test_slow(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.slow(0.3, times=1)

    started = time.perf_counter()
    assert exo.invoke("Get-TransportConfig").status == 200
    assert time.perf_counter() - started >= 0.25
    assert fresh_sim.faults.fired == {"slow": 1}
    assert fresh_sim.faults.pending == []


def fired_once(sim: SimServer, kind: str) -> None:
    deadline = time.monotonic() + 10
    while sim.faults.fired.get(kind) != 1:
        assert time.monotonic() < deadline, f"no {kind} fault fired"
        time.sleep(0.01)


def test_slow_after_apply_makes_the_change_then_holds_its_answer(
    fresh_sim: SimServer, exo: ExoClient
) -> None:
    fresh_sim.faults.slow(2, times=1, cmdlet="Set-CASMailbox", after_apply=True)
    guid = exo.tenant.mailbox_at(3).guid  # seeded with False
    with ThreadPoolExecutor(max_workers=1) as pool:
        late = pool.submit(
            exo.invoke, "Set-CASMailbox", {"Identity": guid, "SmtpClientAuthenticationDisabled": True}
        )
        fired_once(fresh_sim, "slow")
        # Fired once the write is made: a caller killed now never hears of it.
        assert exo.tenant.mailbox(guid).smtp_auth_disabled is True  # type: ignore[union-attr]
        assert not late.done()
        assert late.result().status == 200
    assert fresh_sim.faults.pending == []


def test_slow_after_apply_in_a_batch_records_the_write_before_its_answer(
    fresh_sim: SimServer, exo: ExoClient
) -> None:
    fresh_sim.faults.slow(2, times=1, cmdlet="Set-CASMailbox", after_apply=True, tenant=exo.tenant.tenant_id)
    guid = exo.tenant.mailbox_at(3).guid
    body = {
        "requests": [
            # Refused (no such mailbox): nothing changed, so nothing held.
            item(
                exo,
                "a",
                "Set-CASMailbox",
                {"Identity": "nobody@example.com", "SmtpClientAuthenticationDisabled": True},
            ),
            item(exo, "b", "Set-CASMailbox", {"Identity": guid, "SmtpClientAuthenticationDisabled": True}),
        ]
    }
    headers = batch_headers(exo, Prefer="odata.continue-on-error")
    with ThreadPoolExecutor(max_workers=1) as pool:
        late = pool.submit(http, "POST", batch_url(exo), body=body, headers=headers)
        fired_once(fresh_sim, "slow")
        assert [(c.parameters["Identity"], c.status) for c in fresh_sim.set_calls] == [  # type: ignore[index]
            ("nobody@example.com", 404),
            (guid, 200),
        ]
        assert exo.tenant.mailbox(guid).smtp_auth_disabled is True  # type: ignore[union-attr]
        assert not late.done()
        reply = late.result()
    assert [r["status"] for r in reply.json["responses"]] == [404, 200]
    assert fresh_sim.faults.pending == []


def test_a_request_that_outlives_a_reset_is_not_recorded_after_it(
    fresh_sim: SimServer, exo: ExoClient
) -> None:
    """A slow request still in flight when the next test resets the records (the next
    test's fixture does) must not appear in that test's list when it finally ends."""
    fresh_sim.faults.slow(0.5, times=1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        late = pool.submit(exo.invoke, "Get-TransportConfig")
        deadline = time.monotonic() + 5
        while fresh_sim.faults.fired.get("slow") != 1:  # it has arrived and is sleeping
            assert time.monotonic() < deadline, "the slow request never arrived"
            time.sleep(0.01)
        fresh_sim.reset_records()
        assert exo.invoke("Get-CASMailbox").status == 200
        assert late.result().status == 200
    assert [r.cmdlet for r in fresh_sim.requests] == ["Get-CASMailbox"]


def test_latency_model(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.latency(per_request_ms=0, per_kb_ms=0.1)
    started = time.perf_counter()
    exo.invoke("Get-CASMailbox", ALL)  # a ~4 MB page of full objects -> ~0.4 s
    big = time.perf_counter() - started

    fresh_sim.faults.latency(per_request_ms=100, per_kb_ms=0)
    started = time.perf_counter()
    exo.invoke("Get-TransportConfig")
    small = time.perf_counter() - started

    assert big >= 0.25
    assert small >= 0.09


def test_concurrency_cap(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.latency(per_request_ms=300)
    fresh_sim.faults.limit_concurrency(1)

    with ThreadPoolExecutor(max_workers=3) as pool:
        replies = list(pool.map(lambda _: exo.invoke("Get-TransportConfig"), range(3)))

    codes = sorted(r.status for r in replies)
    assert codes.count(200) >= 1
    assert 429 in codes
    refused = next(r for r in replies if r.status == 429)
    assert refused.useful_message == CONCURRENT_LIMIT_MESSAGE


def test_clear_disarms_everything(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.throttle(times=5)
    fresh_sim.faults.latency(per_request_ms=1000)
    fresh_sim.faults.clear()

    started = time.perf_counter()
    assert statuses(exo, 1) == [200]
    assert time.perf_counter() - started < 0.9
