"""The Exchange client over real HTTP against the simulator, with the real
ManagedIdentityCredential getting its tokens from the simulator's endpoint."""

from __future__ import annotations

import logging
import uuid

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.exchange_errors import (
    ExchangeNotFoundError,
    ExchangePermissionError,
    ExchangeProtocolError,
    ExchangeThrottledError,
    ExchangeTokenError,
)
from shared.adapters.exchange_transport import ANCHOR_MAILBOX, ExchangeRetryPolicy
from shared.adapters.smtp_auth import MAILBOX_PROPERTIES, SmtpAuthClient

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
async def client(sim, tenant_id):
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential) as exchange,
    ):
        yield exchange


def invoke_requests(sim):
    return [r for r in sim.requests if r.path.endswith("/InvokeCommand")]


async def read_all(client) -> list:
    out = []
    async for page in client.cas_mailbox_pages():
        out.extend(page)
    return out


async def test_reads_every_mailbox_across_pages_with_select(sim, client, tenant_id):
    tenant = sim.add_tenant(tenant_id, "paging.onmicrosoft.com")
    tenant.seed(2500, overrides={3: False, 1500: True, 2499: False})
    mailboxes = await read_all(client)

    assert len(mailboxes) == 2500
    assert len({m.guid for m in mailboxes}) == 2500
    enabled = sorted(m.address for m in mailboxes if m.smtp_auth_disabled is False)
    assert enabled == sorted([tenant.mailbox_at(3).address, tenant.mailbox_at(2499).address])
    requests = invoke_requests(sim)
    assert len(requests) == 3  # 1000 + 1000 + 500: one request per page, nothing else
    for request in requests:
        assert request.method == "POST"
        assert request.cmdlet == "Get-CASMailbox"
        assert request.query.get("$select") == ",".join(MAILBOX_PROPERTIES)
    assert "$skiptoken" not in requests[0].query and "$skiptoken" in requests[1].query


async def test_sends_bearer_token_and_anchor_and_caches_the_token(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "anchor.onmicrosoft.com").seed(10)
    assert await client.org_smtp_auth_disabled() is True
    await read_all(client)
    requests = invoke_requests(sim)
    assert len(requests) == 2
    for request in requests:
        assert request.bearer
        assert request.headers["x-anchormailbox"] == ANCHOR_MAILBOX.format(tenant=tenant_id)
        assert request.headers["prefer"] == "odata.maxpagesize=1000"
    assert sim.token_requests == 1


async def test_accepts_the_other_next_link_spelling(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "spelling.onmicrosoft.com").seed(1500)
    sim.next_link_key = "odata.nextLink"
    try:
        assert len(await read_all(client)) == 1500
    finally:
        sim.next_link_key = "@odata.nextLink"


async def test_429_with_retry_after_then_success(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "throttle.onmicrosoft.com").seed(2500)
    sim.faults.throttle(times=1, retry_after=1, only_paged=True)
    assert len(await read_all(client)) == 2500
    statuses = [r.status for r in invoke_requests(sim)]
    assert statuses == [200, 429, 200, 200]
    throttled, retried = invoke_requests(sim)[1:3]
    assert retried.query == throttled.query  # the same page again, same body
    assert retried.at - throttled.at >= 0.9  # waited as Retry-After said


@pytest.mark.parametrize(
    "arm",
    [
        lambda f: f.throttle_without_retry_after(times=2),
        lambda f: f.unavailable(times=2, status=503),
        lambda f: f.unavailable(times=1, status=504),
        lambda f: f.concurrent_limit(times=2),
    ],
    ids=["bare-429", "503", "504", "concurrent-requests"],
)
async def test_transient_errors_are_retried(sim, client, tenant_id, arm):
    sim.add_tenant(tenant_id, "transient.onmicrosoft.com").seed(5)
    armed = arm(sim.faults).remaining
    assert len(await read_all(client)) == 5
    statuses = [r.status for r in invoke_requests(sim)]
    assert statuses[-1] == 200 and statuses.count(200) == 1, statuses  # retried until it went through
    assert sum(sim.faults.fired.values()) == len(statuses) - 1 == armed  # every fault was met


async def test_403_surfaces_the_service_message(sim, client, tenant_id):
    tenant = sim.add_tenant(tenant_id, "denied.onmicrosoft.com")
    tenant.forbidden = "The role assigned to application 1234 isn't supported in this scenario."
    with pytest.raises(ExchangePermissionError) as err:
        await client.org_smtp_auth_disabled()
    assert err.value.status_code == 403
    assert "isn't supported in this scenario" in str(err.value)
    assert "Get-TransportConfig" in str(err.value) and tenant_id in str(err.value)
    assert "client-request-id" in str(err.value)


async def test_403_with_empty_body_says_what_is_probably_missing(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "empty403.onmicrosoft.com").forbidden = ""
    with pytest.raises(ExchangePermissionError, match=r"Exchange\.ManageAsApp"):
        await client.org_smtp_auth_disabled()


async def test_throttling_that_never_ends_fails_the_read(sim, tenant_id):
    sim.add_tenant(tenant_id, "forever.onmicrosoft.com").seed(2500)
    sim.faults.throttle_without_retry_after(times=50, only_paged=True)
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(
            sim.url, tenant_id, credential, retry_policy=ExchangeRetryPolicy(retry_total=2)
        ) as client,
    ):
        with pytest.raises(ExchangeThrottledError):
            await read_all(client)


async def test_find_mailbox_by_address_or_guid(sim, client, tenant_id):
    tenant = sim.add_tenant(tenant_id, "find.onmicrosoft.com")
    added = tenant.add_mailbox("Printer@find.onmicrosoft.com", smtp_auth_disabled=False)
    found = await client.find_mailbox("printer@FIND.onmicrosoft.com")
    assert found is not None and found.guid == added.guid and found.smtp_auth_disabled is False
    assert (await client.find_mailbox(added.guid)).address == found.address
    assert await client.find_mailbox("nobody@find.onmicrosoft.com") is None


async def test_never_follows_a_next_link_off_the_exchange_endpoint(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "hostile.onmicrosoft.com").seed(1500)
    sim.next_link_origin = "http://127.0.0.2:9"
    try:
        with pytest.raises(ExchangeProtocolError, match="outside"):
            await read_all(client)
    finally:
        sim.next_link_origin = None
    assert len(invoke_requests(sim)) == 1  # the token went nowhere else


async def test_tokens_and_identity_header_never_reach_the_logs(sim, tenant_id, caplog):
    sim.add_tenant(tenant_id, "logs.onmicrosoft.com", forbidden="denied").seed(3)
    caplog.set_level(logging.DEBUG)
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential) as client,
    ):
        token = (await credential.get_token("https://outlook.office365.com/.default")).token
        with pytest.raises(ExchangePermissionError) as err:
            await client.org_smtp_auth_disabled()
    assert sim.token_requests == 1  # the client used the cached token shown above
    assert "Authorization" in caplog.text  # the request was logged, header name and all
    for secret in (token, sim.identity_header):
        assert secret not in caplog.text
        assert secret not in str(err.value)


async def test_not_found_is_azure_cores_resource_not_found(sim, client):
    # The client's tenant was never added to the simulator: Exchange answers 404.
    with pytest.raises(ResourceNotFoundError) as missing:
        await client.org_smtp_auth_disabled()
    assert isinstance(missing.value, ExchangeNotFoundError) and isinstance(missing.value, HttpResponseError)
    assert missing.value.status_code == 404
    assert "could not be found" in str(missing.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refusal_is_azure_cores_client_authentication_error(sim, client, tenant_id, status):
    sim.add_tenant(tenant_id, "refused.onmicrosoft.com")
    sim.faults.fail(status, "User is not allowed to call Get-TransportConfig", cmdlet="Get-TransportConfig")
    with pytest.raises(ClientAuthenticationError) as refused:
        await client.org_smtp_auth_disabled()
    assert isinstance(refused.value, ExchangePermissionError)
    assert not isinstance(refused.value, ExchangeTokenError)  # a token was sent; Exchange said no
    assert refused.value.status_code == status
    assert "User is not allowed to call Get-TransportConfig" in str(refused.value)


async def test_no_token_from_the_identity_is_a_token_error_and_nothing_is_sent(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "notoken.onmicrosoft.com")
    sim.allowed_client_ids = ["6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f"]  # not the default identity
    try:
        with pytest.raises(ExchangeTokenError) as err:
            await client.org_smtp_auth_disabled()
    finally:
        sim.allowed_client_ids = None
    assert isinstance(err.value, ClientAuthenticationError)
    assert "Unable to load the proper Managed Identity" in str(err.value)
    assert err.value.tenant == tenant_id
    assert invoke_requests(sim) == []


async def test_each_call_has_its_own_client_request_id_kept_by_its_retries(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "requestid.onmicrosoft.com")
    sim.faults.throttle(times=1, retry_after=0)
    await client.org_smtp_auth_disabled()
    await client.org_smtp_auth_disabled()
    await client.org_smtp_auth_disabled(request_id="support-case-4711")
    throttled, retried, second, named = invoke_requests(sim)
    assert (throttled.status, retried.status) == (429, 200)
    ids = [r.headers["client-request-id"] for r in (throttled, retried, second)]
    assert ids[0] == ids[1] != ids[2]  # a retry is the same call; the next call is not
    assert all(uuid.UUID(i) for i in ids)
    assert named.headers["client-request-id"] == "support-case-4711"
    assert "x-ms-client-request-id" not in throttled.headers  # azure-core's default name is not Exchange's


async def test_timeouts_are_per_call_keywords_over_the_clients_defaults(sim, tenant_id):
    sim.add_tenant(tenant_id, "slow.onmicrosoft.com")
    sim.faults.slow(0.5, cmdlet="Get-TransportConfig")
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential, read_timeout=0.1, retry_total=0) as client,
    ):
        with pytest.raises(ServiceResponseError):
            await client.org_smtp_auth_disabled()
        assert await client.org_smtp_auth_disabled(read_timeout=5) is True


async def test_each_request_is_traced_without_secrets_in_the_span(sim, client, tenant_id, monkeypatch):
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("AZURE_TRACING_ENABLED", "true")
    sim.add_tenant(tenant_id, "traced.onmicrosoft.com").seed(1500)
    try:
        await read_all(client)
        # The identity's own token request is traced too, by azure-identity's pipeline.
        spans = [s for s in exporter.get_finished_spans() if "/adminapi/" in s.attributes.get("url.full", "")]
    finally:
        exporter.shutdown()  # the provider is process-wide: stop collecting here
    # This tenant's requests only: a request an earlier test left in flight is not ours.
    ours = [r for r in invoke_requests(sim) if f"/adminapi/beta/{tenant_id}/" in r.path]
    assert len(spans) == len(ours) == 2
    urls = [s.attributes["url.full"] for s in spans]
    assert all(f"/adminapi/beta/{tenant_id}/InvokeCommand" in u for u in urls)
    assert "$skiptoken=REDACTED" in urls[1]  # the paging token is not kept in traces
    assert [s.attributes["http.response.status_code"] for s in spans] == [200, 200]
    assert not any("authorization" in str(s.attributes).lower() for s in spans)
