"""Contract of the simulator's Graph sign-in log: per-tenant logs, the $filter it
parses (``or`` groups, OData precedence, 400 for the rest), paging, P1, throttling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from sim import SimServer
from sim.graph_filter import parse_filter
from sim.graph_signins import sign_in
from sim.rate_limit import GRAPH_REPORTS_LIMIT, RateLimit
from tests.sim.exo_http import Reply, http, mint_token

GRAPH = "https://graph.microsoft.com"
BOTH_SMTP = "(clientAppUsed eq 'Authenticated SMTP' or clientAppUsed eq 'SMTP')"


def graph_get(server: SimServer, token: str, flt: str | None = None, extra: str = "") -> Reply:
    query = f"?$filter={quote(flt)}{extra}" if flt is not None else extra.replace("&", "?", 1)
    return http(
        "GET", f"{server.url}/v1.0/auditLogs/signIns{query}", headers={"Authorization": f"Bearer {token}"}
    )


def users(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.raw[:300]
    return [e["userPrincipalName"] for e in reply.json["value"]]


@pytest.fixture
def home(fresh_sim: SimServer) -> Iterator[str]:
    """A tenant of its own that the managed identity lives in, throttling off."""
    tenant_id = str(uuid.uuid4())
    fresh_sim.add_tenant(tenant_id, f"t{tenant_id[:8]}.onmicrosoft.com")
    fresh_sim.identity_tenant = tenant_id
    fresh_sim.sign_in_rate_limit = None
    yield tenant_id
    fresh_sim.remove_tenant(tenant_id)


@pytest.fixture
def token(fresh_sim: SimServer, home: str) -> str:
    """A Graph token from the managed identity endpoint (so issued in `home`)."""
    reply = mint_token(fresh_sim, resource=GRAPH)
    assert reply.status == 200, reply.raw
    return reply.json["access_token"]


def test_filter_and_paging(fresh_sim: SimServer, token: str) -> None:
    now = datetime.now(UTC)
    for i in range(5):
        fresh_sim.add_sign_in(sign_in(f"u{i}@contoso.com", now - timedelta(days=i * 10)))
    fresh_sim.add_sign_in(sign_in("spray@contoso.com", now, error_code=50126))
    fresh_sim.add_sign_in(sign_in("eas@contoso.com", now, client_app="Exchange ActiveSync"))
    since = (now - timedelta(days=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    flt = f"clientAppUsed eq 'Authenticated SMTP' and status/errorCode eq 0 and createdDateTime ge {since}"

    first = graph_get(fresh_sim, token, flt, "&$top=2")
    second = http("GET", first.json["@odata.nextLink"], headers={"Authorization": f"Bearer {token}"})

    assert users(first) + users(second) == ["u0@contoso.com", "u1@contoso.com", "u2@contoso.com"]
    assert "@odata.nextLink" not in second.json


def test_an_or_group_finds_both_smtp_client_apps(fresh_sim: SimServer, token: str) -> None:
    now = datetime.now(UTC)
    fresh_sim.add_sign_in(sign_in("basic@contoso.com", now, client_app="Authenticated SMTP"))
    fresh_sim.add_sign_in(sign_in("smtp@contoso.com", now - timedelta(hours=1), client_app="SMTP"))
    fresh_sim.add_sign_in(sign_in("eas@contoso.com", now, client_app="Exchange ActiveSync"))
    fresh_sim.add_sign_in(sign_in("spray@contoso.com", now, client_app="SMTP", error_code=50126))

    reply = graph_get(fresh_sim, token, f"{BOTH_SMTP} and status/errorCode eq 0")

    assert users(reply) == ["basic@contoso.com", "smtp@contoso.com"]


def test_and_binds_tighter_than_or_as_in_odata(fresh_sim: SimServer, token: str) -> None:
    """Without parentheses the filter means (status eq 0 and Authenticated SMTP) or
    SMTP, as Graph reads it: the failed SMTP sign-in comes back too."""
    now = datetime.now(UTC)
    fresh_sim.add_sign_in(sign_in("spray@contoso.com", now, client_app="SMTP", error_code=50126))
    fresh_sim.add_sign_in(sign_in("basic@contoso.com", now - timedelta(hours=1)))
    unbracketed = "status/errorCode eq 0 and clientAppUsed eq 'Authenticated SMTP' or clientAppUsed eq 'SMTP'"

    assert users(graph_get(fresh_sim, token, unbracketed)) == ["spray@contoso.com", "basic@contoso.com"]
    assert users(graph_get(fresh_sim, token, f"status/errorCode eq 0 and {BOTH_SMTP}")) == [
        "basic@contoso.com"
    ]


@pytest.mark.parametrize(
    "flt",
    [
        "createdDateTime gt 2026-01-01T00:00:00Z",  # an operator Graph does not offer here
        "appId eq 'x'",  # a property the sim does not know
        "(clientAppUsed eq 'SMTP' or clientAppUsed eq 'Authenticated SMTP'",  # unclosed
        "clientAppUsed eq 'SMTP')",  # stray parenthesis
        "not clientAppUsed eq 'SMTP'",
        "status/errorCode eq '0'",  # a string where an integer belongs
        "clientAppUsed eq SMTP",  # an unquoted string
        "createdDateTime ge yesterday",
        "clientAppUsed eq 'SMTP' and",
        "clientAppUsed eq 'SMTP' or or clientAppUsed eq 'IMAP4'",
        "startswith(clientAppUsed, 'SMTP')",
    ],
)
def test_anything_else_in_filter_is_400(fresh_sim: SimServer, token: str, flt: str) -> None:
    reply = graph_get(fresh_sim, token, flt)
    assert reply.status == 400
    assert reply.json["error"]["code"] == "BadRequest"
    assert reply.json["error"]["message"].startswith("Invalid filter clause")


def test_filter_values_are_read_as_odata() -> None:
    parsed = parse_filter("userPrincipalName eq 'o''brien@contoso.com'")
    assert parsed is not None and parsed.value == "o'brien@contoso.com"  # type: ignore[union-attr]
    assert parse_filter("   ") is None


def test_sign_ins_need_a_graph_token_and_p1(fresh_sim: SimServer, token: str) -> None:
    exchange = mint_token(fresh_sim).json["access_token"]
    assert graph_get(fresh_sim, exchange).status == 401
    fresh_sim.graph_premium = False
    denied = graph_get(fresh_sim, token)
    assert denied.status == 403
    assert denied.json["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


def test_each_tenant_reads_only_its_own_logs(fresh_sim: SimServer, home: str, token: str) -> None:
    other = str(uuid.uuid4())
    now = datetime.now(UTC)
    fresh_sim.add_sign_in(sign_in("mine@contoso.com", now))  # the identity's tenant
    fresh_sim.add_sign_in(sign_in("theirs@fabrikam.com", now), tenant=other)
    other_token = fresh_sim.issue_token(GRAPH, tenant=other)

    assert users(graph_get(fresh_sim, token)) == ["mine@contoso.com"]
    assert users(graph_get(fresh_sim, other_token)) == ["theirs@fabrikam.com"]
    # The tenant goes with the token when it is minted, as a real token's does.
    fresh_sim.identity_tenant = other
    assert users(graph_get(fresh_sim, token)) == ["mine@contoso.com"]
    fresh_sim.clear_sign_ins(other)
    assert users(graph_get(fresh_sim, other_token)) == []


def test_the_real_limit_is_on_by_default() -> None:
    assert SimServer().sign_in_rate_limit == GRAPH_REPORTS_LIMIT == RateLimit(requests=5, window_s=10.0)


def test_a_sixth_request_in_ten_seconds_is_throttled_like_graph(fresh_sim: SimServer, token: str) -> None:
    fresh_sim.sign_in_rate_limit = GRAPH_REPORTS_LIMIT

    replies = [graph_get(fresh_sim, token) for _ in range(6)]

    assert [r.status for r in replies] == [200] * 5 + [429]
    throttled = replies[-1]
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10  # whole seconds
    assert throttled.json["error"]["code"] == "TooManyRequests"
    assert throttled.json["error"]["innerError"]["status"] == "429"


def test_throttling_counts_per_tenant_and_per_app(fresh_sim: SimServer, token: str) -> None:
    fresh_sim.sign_in_rate_limit = RateLimit(requests=1, window_s=60.0)
    another_tenant = fresh_sim.issue_token(GRAPH, tenant=str(uuid.uuid4()))
    another_app = fresh_sim.issue_token(GRAPH, client_id="11111111-1111-1111-1111-111111111111")

    assert [graph_get(fresh_sim, token).status for _ in range(2)] == [200, 429]
    assert graph_get(fresh_sim, another_tenant).status == 200
    assert graph_get(fresh_sim, another_app).status == 200


def test_waiting_the_retry_after_gets_through(fresh_sim: SimServer, token: str) -> None:
    fresh_sim.sign_in_rate_limit = RateLimit(requests=2, window_s=1.0)
    assert [graph_get(fresh_sim, token).status for _ in range(3)] == [200, 200, 429]
    wait = int(graph_get(fresh_sim, token).headers["Retry-After"])
    assert wait == 1
    time.sleep(wait)
    assert graph_get(fresh_sim, token).status == 200


def test_the_limit_can_be_switched_off(fresh_sim: SimServer, token: str) -> None:
    fresh_sim.sign_in_rate_limit = None
    assert {graph_get(fresh_sim, token).status for _ in range(12)} == {200}
