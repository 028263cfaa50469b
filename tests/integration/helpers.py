"""Small helpers for integration tests: the production runtime on the test's own tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from shared.core.model import MailboxException, TenantPolicy
from shared.notify.dispatch import NotifyConfig
from shared.shell.remediator import VerifyTimings
from shared.shell.runtime import Runtime, open_runtime, utc_now
from shared.shell.settings import Settings
from shared.store.rows import exception_row_key

FAST_VERIFY = VerifyTimings(attempts=3, first_delay_s=0.05)


@asynccontextmanager
async def services(
    clock: Callable[[], datetime] | None = None,
    config: NotifyConfig | None = None,
    *,
    verify: VerifyTimings = FAST_VERIFY,
    tenant_credential_options: dict[str, Any] | None = None,
) -> AsyncIterator[Runtime]:
    """What the timer opens (open_runtime, managed identity), from the test's settings;
    a test that moves time passes one clock, and the whole run reads it. A test with
    customer tenants passes ``customer_app.options`` (trust the sim's test CA)."""
    async with open_runtime(
        Settings.from_env(),
        clock=clock or utc_now,
        verify=verify,
        notify_config=config,
        tenant_credential_options=tenant_credential_options,
    ) as runtime:
        yield runtime


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
    svc: Runtime, tenant_id: str, domain: str, *exceptions: MailboxException, **policy: object
) -> None:
    await svc.desired.put_tenant(TenantPolicy(tenant_id, domain, **policy))  # type: ignore[arg-type]
    for exc in exceptions:
        await svc.desired.put_exception(tenant_id, exc)
