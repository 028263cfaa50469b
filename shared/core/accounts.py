"""Sign-in log records looked up by the account they name. Pure.

The logs name an account by its UPN (usually the mailbox's address) or by its Entra
object id. A check matches every approved mailbox with SMTP AUTH on against them, and
remediation every mailbox it would change: a scan of the whole log per mailbox made
that mailboxes x accounts (10,000 x 10,000 in one tenant: minutes of CPU), so the log
is indexed once and each mailbox is a lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar


class Account(Protocol):
    """What a sign-in record names its account by (SignInEvidence, SmtpUser)."""

    @property
    def user(self) -> str: ...

    @property
    def user_id(self) -> str: ...


T = TypeVar("T", bound=Account)


class AccountIndex(Generic[T]):
    """Records by lower-cased UPN and by lower-cased object id."""

    def __init__(self, records: Iterable[T]) -> None:
        self._records = tuple(records)
        self._by_name: dict[str, list[int]] = {}
        self._by_id: dict[str, list[int]] = {}
        for at, record in enumerate(self._records):
            self._by_name.setdefault(record.user.lower(), []).append(at)
            if record.user_id:
                self._by_id.setdefault(record.user_id.lower(), []).append(at)

    def of(self, address: str, external_id: str | None) -> list[T]:
        """The records whose UPN is ``address`` or whose object id is ``external_id``
        (case-insensitive), each once, in the order they were given."""
        found = self._by_name.get(address.lower(), [])
        by_id = self._by_id.get(external_id.lower(), []) if external_id else []
        if by_id:
            found = sorted(set(found).union(by_id))
        return [self._records[at] for at in found]
