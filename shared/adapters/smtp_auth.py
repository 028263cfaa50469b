"""The SMTP AUTH settings of one tenant in Exchange Online: the org switch
(``Get-/Set-TransportConfig``) and each mailbox's override (``Get-/Set-CASMailbox``),
read and written through that tenant's InvokeCommand transport.

One client per tenant, like azure-data-tables' ``TableClient`` per table: its
bearer-token policy caches one token, which is only ever right for one tenant.
Keyword arguments of each method (``read_timeout=``, ``connection_timeout=``,
``retry_total=``, ``request_id=``) go to the pipeline for that call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Self

from azure.core.credentials_async import AsyncTokenCredential

from shared.adapters.auth_policies import read_basic_auth_policy
from shared.adapters.exchange_errors import ExchangeNotFoundError, ExchangeProtocolError
from shared.adapters.exchange_transport import BatchItem, ExchangeTransport
from shared.core.basic_auth import BasicAuthPolicy
from shared.core.model import MailboxSetting

MAILBOX_PROPERTIES = (
    "Guid",
    "PrimarySmtpAddress",
    "ExternalDirectoryObjectId",
    "SmtpClientAuthenticationDisabled",
)
ORG_PROPERTIES = ("SmtpClientAuthenticationDisabled",)


class SmtpAuthClient:
    """Reads and sets SMTP AUTH in one tenant. ``**kwargs`` configure the pipeline
    (see ExchangeTransport)."""

    def __init__(
        self, base_url: str, tenant_id: str, credential: AsyncTokenCredential, **kwargs: Any
    ) -> None:
        self.transport = ExchangeTransport(base_url, tenant_id, credential, **kwargs)
        self.tenant_id = tenant_id

    async def __aenter__(self) -> Self:
        await self.transport.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.transport.close()

    # -- reads -------------------------------------------------------------------

    async def org_smtp_auth_disabled(self, **kwargs: Any) -> bool:
        where = f"Get-TransportConfig for tenant {self.tenant_id}"
        value = await self.transport.invoke("Get-TransportConfig", select=ORG_PROPERTIES, **kwargs)
        if len(value) != 1 or not isinstance(value[0], dict):
            raise ExchangeProtocolError(f"{where}: expected one object, got {len(value)}")
        setting = _bool_or_none(value[0].get("SmtpClientAuthenticationDisabled"), where)
        if setting is None:
            raise ExchangeProtocolError(f"{where}: SmtpClientAuthenticationDisabled missing")
        return setting

    async def basic_auth_policy(self, **kwargs: Any) -> BasicAuthPolicy:
        """The default authentication policy's say on Basic SMTP AUTH; never raises
        (a failure is "unknown", shared.adapters.auth_policies)."""
        return await read_basic_auth_policy(self.transport, **kwargs)

    async def cas_mailbox_pages(
        self,
        on_progress: Callable[[int], None] | None = None,
        *,
        keep: Callable[[str, str, bool | None], bool] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[list[MailboxSetting]]:
        """Every CAS mailbox, page by page, reduced to its SMTP AUTH setting.

        ``keep(guid, address, setting)``, when given, picks the mailboxes a page holds.
        The others are still validated (a malformed item fails the page either way) but
        never become objects: building one per mailbox only to drop 99% of them was the
        largest cost of a 100,000-mailbox check in our code (docs/performance.md).
        ``on_progress`` gets the number of mailboxes read so far, kept or not."""
        tenant = self.tenant_id
        seen = 0
        async for page in self.transport.pages(
            "Get-CASMailbox", {"ResultSize": "Unlimited"}, select=MAILBOX_PROPERTIES, **kwargs
        ):
            if keep is None:
                mailboxes = [_mailbox(item, tenant) for item in page]
            else:
                mailboxes = []
                for item in page:
                    fields = item if isinstance(item, dict) else {}
                    guid = fields.get("Guid")
                    address = fields.get("PrimarySmtpAddress")
                    setting = fields.get("SmtpClientAuthenticationDisabled")
                    # A malformed item goes to _mailbox too, which raises the usual error.
                    # (Inline, so mypy narrows guid and address to str for keep().)
                    if not (
                        isinstance(guid, str)
                        and isinstance(address, str)
                        and (setting is None or setting is True or setting is False)
                    ) or keep(guid, address, setting):
                        mailboxes.append(_mailbox(item, tenant))
            seen += len(page)
            if on_progress:
                on_progress(seen)
            yield mailboxes

    async def find_mailbox(self, identity: str, **kwargs: Any) -> MailboxSetting | None:
        """One mailbox by address or GUID, or None when Exchange does not know it."""
        try:
            value = await self.transport.invoke(
                "Get-CASMailbox", {"Identity": identity}, select=MAILBOX_PROPERTIES, **kwargs
            )
        except ExchangeNotFoundError:
            return None
        if len(value) != 1:
            return None
        return _mailbox(value[0], self.tenant_id)

    async def read_mailboxes(self, guids: Sequence[str], **kwargs: Any) -> dict[str, MailboxSetting | str]:
        """Current settings of some mailboxes by GUID: a MailboxSetting, or the error text."""
        calls = [(guid, "Get-CASMailbox", {"Identity": guid}) for guid in guids]
        items = await self.transport.batch(calls, select=MAILBOX_PROPERTIES, **kwargs)
        out: dict[str, MailboxSetting | str] = {}
        for guid in guids:
            item = items[guid]
            if item.error is not None:
                out[guid] = item.error
            elif len(item.value) != 1:
                out[guid] = f"expected one mailbox, got {len(item.value)}"
            else:
                out[guid] = _mailbox(item.value[0], self.tenant_id)
        return out

    # -- writes (remediation) ------------------------------------------------------

    async def set_org_smtp_auth_disabled(self, value: bool, **kwargs: Any) -> tuple[str, ...]:
        """Set the org switch; Exchange's warnings, if it gave any (the audit keeps them)."""
        result = await self.transport.run(
            "Set-TransportConfig", {"SmtpClientAuthenticationDisabled": value}, **kwargs
        )
        return result.warnings

    async def set_mailboxes(
        self, changes: Sequence[tuple[str, bool | None]], **kwargs: Any
    ) -> dict[str, BatchItem]:
        """Set SmtpClientAuthenticationDisabled on mailboxes by GUID; each GUID's
        answer: status 2xx done (``warnings`` as Exchange gave them), 4xx/5xx refused
        (``error`` says why), 0 unknown."""
        calls = [
            (guid, "Set-CASMailbox", {"Identity": guid, "SmtpClientAuthenticationDisabled": value})
            for guid, value in changes
        ]
        return await self.transport.batch(calls, **kwargs)


def _bool_or_none(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ExchangeProtocolError(
        f"{where}: SmtpClientAuthenticationDisabled is {value!r}, not true/false/null"
    )


def _mailbox(item: Any, tenant: str) -> MailboxSetting:
    if not isinstance(item, dict):
        raise ExchangeProtocolError(f"Get-CASMailbox for tenant {tenant}: an item is not an object")
    guid = item.get("Guid")
    address = item.get("PrimarySmtpAddress")
    if not isinstance(guid, str) or not isinstance(address, str):
        raise ExchangeProtocolError(
            f"Get-CASMailbox for tenant {tenant}: an item lacks Guid or PrimarySmtpAddress"
        )
    where = f"Get-CASMailbox for tenant {tenant}, mailbox {address}"
    external = item.get("ExternalDirectoryObjectId")
    return MailboxSetting(
        guid=guid,
        address=address,
        smtp_auth_disabled=_bool_or_none(item.get("SmtpClientAuthenticationDisabled"), where),
        external_id=external if isinstance(external, str) and external else None,
    )
