"""cas_mailbox_pages(keep=...) and observe(): mailboxes are filtered before objects
are built (the scan's hot path), yet every item is still validated and counted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.adapters.exchange_errors import ExchangeProtocolError
from shared.adapters.smtp_auth import SmtpAuthClient
from shared.core.basic_auth import BasicAuthPolicy
from shared.core.model import MailboxSetting, TenantPolicy
from shared.core.policy import ExceptionIndex
from shared.shell.engine import observe

TENANT = "7d2c9b1e-4f3a-4e6b-8c5d-2a1b0c9d8e7f"


class _Credential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # never called: no HTTP here
        raise AssertionError("no token expected")


def item(n: int, setting: Any = None) -> dict[str, Any]:
    return {
        "Guid": str(uuid.UUID(int=n)),
        "PrimarySmtpAddress": f"user{n:05d}@contoso.com",
        "ExternalDirectoryObjectId": str(uuid.UUID(int=10**6 + n)),
        "SmtpClientAuthenticationDisabled": setting,
    }


def client_with_pages(pages: list[list[Any]], org: bool = True) -> SmtpAuthClient:
    client = SmtpAuthClient("https://outlook.office365.com", TENANT, _Credential())  # type: ignore[arg-type]

    async def fake_pages(*args: Any, **kwargs: Any) -> AsyncIterator[list[Any]]:
        for page in pages:
            yield page

    async def fake_org(**kwargs: Any) -> bool:
        return org

    async def fake_policy(**kwargs: Any) -> BasicAuthPolicy:
        return BasicAuthPolicy(True, None, True)

    client.transport.pages = fake_pages  # type: ignore[method-assign]
    client.org_smtp_auth_disabled = fake_org  # type: ignore[method-assign]
    client.basic_auth_policy = fake_policy  # type: ignore[method-assign]
    return client


async def collect(client: SmtpAuthClient, **kwargs: Any) -> tuple[list[MailboxSetting], list[int]]:
    progress: list[int] = []
    out: list[MailboxSetting] = []
    async for page in client.cas_mailbox_pages(progress.append, **kwargs):
        out.extend(page)
    return out, progress


PAGES = [[item(0), item(1, False), item(2, True)], [item(3), item(4)], []]


async def test_keep_builds_only_the_kept_mailboxes_and_counts_all() -> None:
    everything, progress_all = await collect(client_with_pages(PAGES))
    kept, progress = await collect(client_with_pages(PAGES), keep=ExceptionIndex(()).is_relevant)

    assert [m.address for m in kept] == ["user00001@contoso.com", "user00002@contoso.com"]
    assert kept == [m for m in everything if m.smtp_auth_disabled is not None]
    assert progress == progress_all == [3, 5, 5]


async def test_keep_rejects_nothing_it_should_keep() -> None:
    exceptions_by_address = ExceptionIndex(())
    exceptions_by_address.by_address["user00003@contoso.com"] = []
    kept, _ = await collect(client_with_pages(PAGES), keep=exceptions_by_address.is_relevant)
    assert [m.address for m in kept] == [
        "user00001@contoso.com",
        "user00002@contoso.com",
        "user00003@contoso.com",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "not an object",
        {"PrimarySmtpAddress": "x@contoso.com", "SmtpClientAuthenticationDisabled": None},
        {"Guid": str(uuid.uuid4()), "SmtpClientAuthenticationDisabled": None},
        item(9, "false"),
        item(9, 0),
        item(9, 1),
    ],
)
async def test_a_malformed_item_fails_the_page_even_when_keep_would_drop_it(bad: Any) -> None:
    pages = [[item(0), bad, item(1)]]
    with pytest.raises(ExchangeProtocolError) as filtered:
        await collect(client_with_pages(pages), keep=lambda *_: False)
    with pytest.raises(ExchangeProtocolError) as unfiltered:
        await collect(client_with_pages(pages))
    assert str(filtered.value) == str(unfiltered.value)


async def test_observe_counts_every_mailbox_and_keeps_only_relevant_ones() -> None:
    seen: list[tuple[str, int]] = []
    observed = await observe(
        client_with_pages(PAGES, org=False),
        TenantPolicy(TENANT, "contoso.onmicrosoft.com"),
        lambda tenant, n: seen.append((tenant, n)),
    )
    assert observed.org_smtp_auth_disabled is False
    assert observed.mailboxes_scanned == 5
    assert [m.smtp_auth_disabled for m in observed.mailboxes] == [False, True]
    assert seen == [(TENANT, 3), (TENANT, 5), (TENANT, 5)]


async def test_observe_without_progress_still_counts() -> None:
    observed = await observe(client_with_pages(PAGES), TenantPolicy(TENANT, "contoso.onmicrosoft.com"))
    assert observed.mailboxes_scanned == 5
