"""Small helpers for integration tests: services on the test's own tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from shared.adapters.credentials import managed_identity
from shared.core.model import MailboxException, TenantPolicy
from shared.shell.engine import Services
from shared.shell.remediator import VerifyTimings
from shared.shell.runtime import open_services
from shared.shell.settings import Settings
from shared.store.rows import exception_row_key

FAST_VERIFY = VerifyTimings(attempts=3, first_delay_s=0.05)


@asynccontextmanager
async def services(verify: VerifyTimings = FAST_VERIFY) -> AsyncIterator[Services]:
    settings = Settings.from_env()
    async with (
        managed_identity(None) as credential,
        open_services(settings, credential, verify=verify) as svc,
    ):
        yield svc


def approved(mailbox, expires: date = date(2099, 1, 1)) -> MailboxException:
    return MailboxException(
        row_key=exception_row_key(mailbox.guid, mailbox.address),
        mailbox=mailbox.address.lower(),
        mailbox_guid=mailbox.guid.lower(),
        reason="scan to mail",
        approver="ciso@contoso.com",
        expires=expires,
    )


async def monitor(
    svc: Services, tenant_id: str, domain: str, *exceptions: MailboxException, **policy: object
) -> None:
    await svc.desired.put_tenant(TenantPolicy(tenant_id, domain, **policy))  # type: ignore[arg-type]
    for exc in exceptions:
        await svc.desired.put_exception(tenant_id, exc)
