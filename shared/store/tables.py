"""Table Storage clients and table names. No keys in Azure: an identity-based
endpoint uses the managed identity; Azurite uses its connection string."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields
from typing import Any, Protocol

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.data.tables.aio import TableServiceClient

from shared.core.limits import STORAGE_PIPELINE


@dataclass(frozen=True)
class TableNames:
    desired: str
    runs: str
    findings: str
    events: str
    audit: str
    locks: str
    outbox: str
    health: str

    @classmethod
    def with_prefix(cls, prefix: str) -> TableNames:
        return cls(
            desired=f"{prefix}Desired",
            runs=f"{prefix}Runs",
            findings=f"{prefix}Findings",
            events=f"{prefix}Events",
            audit=f"{prefix}Audit",
            locks=f"{prefix}Locks",
            outbox=f"{prefix}Outbox",
            health=f"{prefix}Health",
        )

    def all(self) -> tuple[str, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


class StorageLocation(Protocol):
    """Where the tables live (shell.settings.StorageSettings, read from the app settings)."""

    @property
    def connection_string(self) -> str | None: ...

    @property
    def table_endpoint(self) -> str | None: ...


def service_client(storage: StorageLocation, credential: AsyncTokenCredential) -> TableServiceClient:
    """Azurite or a connection string as given; otherwise the identity-based endpoint
    with the same credential as everything else (no account key anywhere)."""
    # Every answer passes the hook (the tables' clients share this pipeline): a table
    # found deleted is created again by the next runtime, whoever met it first.
    options: dict[str, Any] = {**STORAGE_PIPELINE, "raw_response_hook": forget_deleted_table}
    if storage.connection_string:
        return TableServiceClient.from_connection_string(storage.connection_string, **options)
    if not storage.table_endpoint:
        # StorageSettings.from_env() never builds this; a caller that did made a bug.
        raise ValueError("no table endpoint configured")
    return TableServiceClient(storage.table_endpoint, credential=credential, **options)


# Tables known to exist, per storage endpoint, for the life of the process: a
# Functions worker lives across invocations, so each run would otherwise send one
# create-table per table (each a 409 that monitoring counts as a failed call).
_ENSURED: set[tuple[str, str]] = set()


async def ensure_tables(service: TableServiceClient, names: TableNames) -> None:
    for name in names.all():
        key = (service.url, name)
        if key in _ENSURED:
            continue
        with contextlib.suppress(ResourceExistsError):
            await service.create_table(name)
        _ENSURED.add(key)


def is_missing_table(exc: BaseException) -> bool:
    """Table Storage said a table of the app does not exist (someone deleted it)."""
    # A batch (TableTransactionError) says it in its error code too, with another class;
    # an entity write's error may carry it only in its answer's header.
    if not isinstance(exc, HttpResponseError):
        return False
    if getattr(exc, "error_code", None) == "TableNotFound":
        return True
    response: Any = exc.response
    return response is not None and _says_table_not_found(response.status_code, response.headers)


def forget_deleted_table(response: Any) -> None:
    """azure-core's raw response hook: Table Storage answered that a table does not
    exist. The error is the caller's to handle (the lock, audit and outbox code each
    stop safely); this only makes sure the tables are created again next run, instead
    of every run of this worker failing the same way until it restarts."""
    http = response.http_response
    if _says_table_not_found(http.status_code, http.headers):
        forget_tables()


def _says_table_not_found(status: int, headers: Any) -> bool:
    return status == 404 and headers.get("x-ms-error-code") == "TableNotFound"


def forget_tables() -> None:
    """A table was deleted under the running app: the next runtime creates the tables
    again instead of failing on it until the worker restarts."""
    _ENSURED.clear()
