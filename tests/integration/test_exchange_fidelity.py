"""The Exchange client against answers shaped as the 2026-12 audit found real ones
(/work/shared/reference/exchange-admin-api.md, "Corrections found in the 2026-12
audit"): cmdlet error bodies, the 401 of a missing Exchange role, partial and
warnings-only 200s, and ``$batch`` as production tools send it. Real HTTP to the
simulator, the real ManagedIdentityCredential."""

from __future__ import annotations

import logging

import pytest
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.exchange_errors import (
    ExchangeNotFoundError,
    ExchangePartialError,
    ExchangePermissionError,
    ExchangeProtocolError,
)
from shared.adapters.exchange_transport import ACCEPT
from shared.adapters.smtp_auth import MAILBOX_PROPERTIES, SmtpAuthClient
from shared.core.model import ActionStatus, Mode, Status
from shared.shell import report
from shared.shell.engine import check_tenants

from .helpers import monitor, services

pytestmark = pytest.mark.usefixtures("app_env")
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"


@pytest.fixture
async def client(sim, tenant_id):
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential) as exchange,
    ):
        yield exchange


# -- item 2: error bodies -----------------------------------------------------------


async def test_a_cmdlet_error_reads_as_its_text_and_its_type_decides_the_class(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "exerr.onmicrosoft.com").seed(3)
    # Not found, though the HTTP status says 400: the exception type decides.
    sim.faults.fail(
        400, "The object 'ghost' couldn't be found.", exception_type=NOT_FOUND, cmdlet="Get-CASMailbox"
    )
    with pytest.raises(ExchangeNotFoundError) as err:
        await client.transport.invoke("Get-CASMailbox", {"Identity": "ghost"})
    assert err.value.exception_type == NOT_FOUND
    assert "The object 'ghost' couldn't be found." in str(err.value)
    assert "|" not in str(err.value) and "Ex6F9304" not in str(err.value)  # people read the text only


async def test_an_unknown_mailbox_is_not_found_and_its_message_is_plain(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "ghost.onmicrosoft.com").seed(3)
    assert await client.find_mailbox("ghost@ghost.onmicrosoft.com") is None
    read = await client.read_mailboxes(["0b5c8e0e-0000-4000-8000-000000000000"])
    (text,) = read.values()
    assert isinstance(text, str) and text.startswith("The operation couldn't be performed because object")
    assert "ManagementObjectNotFoundException" not in text


async def test_a_missing_exchange_role_says_which_grant_to_add(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "norole.onmicrosoft.com").exchange_role = False
    with pytest.raises(ExchangePermissionError) as err:
        await client.org_smtp_auth_disabled()
    text = str(err.value)
    assert err.value.status_code == 401
    assert "User is not allowed to call Get-TransportConfig" in text
    assert "Missing grant: an Exchange role that allows Get-TransportConfig" in text
    assert "View-Only Configuration" in text and "Exchange Administrator" in text


async def test_a_403_names_the_role_first_and_the_app_role_second(sim, client, tenant_id):
    # 403 comes with the app role and without a role (401 with neither).
    sim.add_tenant(tenant_id, "noapprole.onmicrosoft.com").forbidden = True
    with pytest.raises(ExchangePermissionError) as err:
        await client.org_smtp_auth_disabled()
    text = str(err.value)
    assert "Missing grant: most likely an Exchange role that allows Get-TransportConfig" in text
    assert text.index("an Exchange role") < text.index("Exchange.ManageAsApp")


async def test_a_check_without_the_exchange_role_is_could_not_check_with_the_grant(sim, tenant_id):
    sim.add_tenant(tenant_id, "norole2.onmicrosoft.com").exchange_role = False
    async with services() as svc:
        await monitor(svc, tenant_id, "norole2.onmicrosoft.com")
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR
    assert "Exchange Online refused access" in result.error
    assert "an Exchange role that allows Get-TransportConfig" in result.error


# -- item 3: partial answers ---------------------------------------------------------


async def test_a_page_with_adminapi_errors_fails_the_read(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "partial.onmicrosoft.com").seed(2500)
    sim.faults.partial_errors("The mailbox database is offline.", cmdlet="Get-CASMailbox", only_paged=True)
    pages = []
    with pytest.raises(ExchangePartialError) as err:
        async for page in client.cas_mailbox_pages():
            pages.append(page)
    assert len(pages) == 1  # the first page only: the second was never data
    assert "The mailbox database is offline." in str(err.value)
    assert "incomplete" in str(err.value) and "|" not in str(err.value)


async def test_a_partial_read_is_could_not_check_resolves_nothing_and_remediates_nothing(sim, tenant_id):
    domain = "partialrun.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(1500, overrides={3: False, 1200: False})  # one on each page
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (first,) = await check_tenants(svc)
        assert first.status is Status.DRIFT and len(first.diff.opened) == 2
        # The next run may remediate; page 2 comes with errors (and without one drift),
        # page 1 still shows a mailbox remediation would fix.
        tenant.apply_setting(tenant.mailbox_at(1200).guid, None)
        await monitor(svc, tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0)
        sim.faults.partial_errors("Some objects could not be read.", cmdlet="Get-CASMailbox", only_paged=True)
        (second,) = await check_tenants(svc)
    assert second.status is Status.ERROR
    assert "Some objects could not be read." in second.error
    assert second.diff is None or not second.diff.resolved
    assert second.remediation is None
    assert sim.set_calls == []


async def test_a_get_answered_with_warnings_alone_is_not_data(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "warnget.onmicrosoft.com")
    sim.faults.warnings_only("Something to note.", cmdlet="Get-TransportConfig")
    with pytest.raises(ExchangeProtocolError, match="no 'value' list"):
        await client.org_smtp_auth_disabled()


async def test_a_set_answered_with_warnings_alone_succeeds_and_the_audit_keeps_them(sim, tenant_id, caplog):
    domain = "warnset.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False)
    tenant.seed(5, overrides={2: False})
    sim.faults.warnings_only("The change takes up to 60 minutes.", cmdlet="Set-TransportConfig")
    sim.faults.warnings_only("The mailbox is on litigation hold.", cmdlet="Set-CASMailbox")
    caplog.set_level(logging.WARNING)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0)
        (result,) = await check_tenants(svc)
        audit = await svc.remediator.audit.list(tenant_id)
    assert {r.status for r in result.remediation.results} == {ActionStatus.APPLIED}
    outcomes = {r.target: r for r in audit if r.status is ActionStatus.APPLIED}
    assert outcomes["organization"].warnings == ("The change takes up to 60 minutes.",)
    assert outcomes[tenant.mailbox_at(2).address].warnings == ("The mailbox is on litigation hold.",)
    assert "Exchange warned: The change takes up to 60 minutes." in outcomes["organization"].reason
    assert report.audit_json(audit)[0]["Warnings"] in (
        ["The change takes up to 60 minutes."],
        ["The mailbox is on litigation hold."],
    )
    assert "The change takes up to 60 minutes." in caplog.text


# -- item 5: $batch as production tools send it -----------------------------------------


async def test_batch_items_carry_the_token_and_the_batch_asks_for_json(sim, tenant_id, caplog):
    tenant = sim.add_tenant(tenant_id, "batchauth.onmicrosoft.com")
    tenant.seed(3)
    caplog.set_level(logging.DEBUG)
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential) as client,
    ):
        token = (await credential.get_token("https://outlook.office365.com/.default")).token
        read = await client.read_mailboxes([tenant.mailbox_at(i).guid for i in range(3)])
    assert all(not isinstance(v, str) for v in read.values())
    (outer,) = [r for r in sim.requests if r.path.endswith("/$batch")]
    assert outer.headers["accept"] == ACCEPT == "application/json; odata.metadata=minimal"
    items = [r for r in sim.requests if r.cmdlet == "Get-CASMailbox"]
    # The sim answers an item without the batch's own bearer token 401.
    assert len(items) == 3 and all(r.bearer and r.status == 200 for r in items)
    assert sim.token_requests == 1  # the client used the token shown above
    assert token not in caplog.text  # not in the header logs, and bodies are never logged


async def test_a_batch_items_own_next_link_is_followed(sim, client, tenant_id):
    sim.add_tenant(tenant_id, "batchpages.onmicrosoft.com").seed(2500)
    items = await client.transport.batch(
        [("all", "Get-CASMailbox", {"ResultSize": "Unlimited"})], select=MAILBOX_PROPERTIES
    )
    assert items["all"].error is None
    assert len(items["all"].value) == 2500 and len({m["Guid"] for m in items["all"].value}) == 2500
    batches = [r for r in sim.requests if r.path.endswith("/$batch")]
    assert len(batches) == 3  # one per page of the item, re-sent with its next link
    pages = [r for r in sim.requests if r.cmdlet == "Get-CASMailbox"]
    assert "$skiptoken" not in pages[0].query and all("$skiptoken" in r.query for r in pages[1:])
    assert all(r.query.get("$select") == ",".join(MAILBOX_PROPERTIES) for r in pages)
