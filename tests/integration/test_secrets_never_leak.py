"""No secret is ever logged or stored: a full demo-like cycle (the timer's fan-out and
the queue worker, the in-process check with remediation, notifications with a
failing webhook and a throttled sendMail, the weekly digest, and a customer tenant
reached through the federated multi-tenant app) with every log record
of every logger captured at DEBUG (azure.* included) and every entity of every
table and every queue message read afterwards. Searched for the secrets the
simulator and Azurite actually issued: each access token, the managed identity
header, the webhook's ``sig=``, the storage account key, the client assertion and the
customer tenant's Entra tokens; plus the generic shapes
(``Bearer <token>``) in case a token came from somewhere else."""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableServiceClient
from azure.storage.queue.aio import QueueServiceClient

from shared.core.model import Mode, Status
from shared.shell.cycle import run_cycle
from shared.shell.jobs import scheduled_check, weekly_digest
from shared.shell.settings import Settings
from shared.shell.tick import fan_out
from sim.azurite import DEV_KEY
from sim.graph_signins import sign_in

from .helpers import approved, services
from .notify_helpers import SENDER, TEAMS_SETTING, notified_policy
from .queue_host import drain_all, load_functions

pytestmark = pytest.mark.usefixtures("app_env")


class Everything(logging.Handler):
    """Every record, with its formatted message, its traceback and every attribute
    (extras included): a secret passed as an argument or an extra is caught too."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{self.format(r)} {vars(r)!r}" for r in self.records)


@pytest.fixture
def every_log_line() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    loggers = [root] + [
        logging.getLogger(name)
        for name, lg in list(logging.Logger.manager.loggerDict.items())
        if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # Named loggers may have a level of their own (azure-core sets none; be sure).
    named = [logging.getLogger(n) for n in ("azure", "msgraph", "kiota_http", "httpx", "aiohttp", "shared")]
    named_levels = [lg.level for lg in named]
    for lg in named:
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)
    for lg, level in zip(named, named_levels, strict=True):
        lg.setLevel(level)


async def stored(app_env: dict[str, str]) -> tuple[int, str]:
    """(how many entities, all their text) in the app's tables, and every message on
    its queues, decoded."""
    connection, prefix = app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_TABLE_PREFIX"]
    parts: list[str] = []
    count = 0
    async with TableServiceClient.from_connection_string(connection) as service:
        async for table in service.list_tables():
            if not table.name.startswith(prefix):
                continue
            async for entity in service.get_table_client(table.name).list_entities():
                count += 1
                parts.append(repr(dict(entity)) + repr(entity.metadata))
    async with QueueServiceClient.from_connection_string(connection) as queues:
        async for queue in queues.list_queues(name_starts_with=app_env["SMTPAUTH_CHECK_QUEUE"]):
            for message in await queues.get_queue_client(queue.name).peek_messages(32):
                parts.append(message.content + base64.b64decode(message.content).decode(errors="replace"))
    return count, "\n".join(parts)


async def test_no_token_signature_identity_header_or_account_key_is_logged_or_stored(
    sim, tenant_id, app_env, monkeypatch, every_log_line, customer_app
):
    webhook = sim.add_teams_webhook()
    sig = webhook.rsplit("sig=", 1)[1]
    monkeypatch.setenv(TEAMS_SETTING, webhook)
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)
    domain = "leaks.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False)
    tenant.seed(40, overrides={3: False, 7: False, 11: False})
    printer = tenant.mailbox_at(11)
    sim.add_sign_in(sign_in(printer.address, datetime.now(UTC) - timedelta(days=1)))  # held, not fixed
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0))
        await svc.desired.put_exception(tenant_id, approved(tenant.mailbox_at(20)))
        await fan_out(svc)  # the timer: a message on the check queue
    # The first delivery of each channel fails: error texts (which quote what came
    # back) are logged and stored in the outbox.
    sim.faults.fail(500, f"flow failed for {webhook}", times=2, service="teams")
    sim.faults.throttle(retry_after=1, times=1, service="graph-mail")

    await drain_all(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], load_functions())
    await scheduled_check(Settings.from_env())
    digest = await weekly_digest(Settings.from_env())
    assert any("Weekly SMTP AUTH summary" in s for s in digest.sent), digest

    # A customer tenant: the managed identity's token as the client assertion, Entra's
    # tokens for that tenant (the sim's CA passed in: aiohttp fixes its trust at import).
    customer, customer_domain = str(uuid.uuid4()), "customer.onmicrosoft.com"
    sim.add_tenant(customer, customer_domain).seed(5, overrides={2: False})
    customer_app.consent(customer, directory_role="Exchange Administrator")
    async with services(tenant_credential_options=customer_app.options) as svc:
        policy = notified_policy(customer, customer_domain, mode=Mode.REMEDIATE, grace_hours=0)
        await svc.desired.put_tenant(policy)
        (checked,) = (await run_cycle(svc, customer)).results
    assert checked.status is Status.COMPLIANT and len(checked.fixed) == 1, checked.error
    assert [r for r in sim.requests if r.cmdlet == "token" and r.tenant == customer], "Entra was asked"

    assert [c for c in sim.set_calls if c.status == 200], "remediation wrote to Exchange"
    assert sim.teams_posts and sim.sent_mails, "something was delivered"
    tokens = sim.issued_tokens
    assert tokens and sim.token_requests >= 1
    count, rows = await stored(app_env)
    logs = every_log_line.text()
    assert count >= 10 and any(r.name.startswith("azure.") for r in every_log_line.records)
    assert any(r.levelno == logging.DEBUG for r in every_log_line.records)

    secrets = {
        **{f"access token {n}": token for n, token in enumerate(tokens)},
        "identity header": sim.identity_header,
        "webhook sig": sig,
        "webhook URL": webhook,
        "storage account key": DEV_KEY,
    }
    for where, text in (("log", logs), ("stored row", rows)):
        leaked = [name for name, value in secrets.items() if value in text]
        assert leaked == [], f"{where} holds {leaked}"
        assert not re.search(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}", text), where
        assert not re.search(r"sig=(?!REDACTED|\*\*\*)[A-Za-z0-9%._~+/=-]{8,}", text), where
        assert not re.search(r"AccountKey=[A-Za-z0-9+/=]{20,}", text), where
