"""Table Storage and the check queue give up within bounds: azure-core's defaults
(10 tries, 300 s per read) would let a storage endpoint that accepts and never
answers hold a run past the function timeout, and a run the host stops records
nothing. The clients are built here as the runtime builds them (no request sent)."""

from __future__ import annotations

import pytest
from azure.core.credentials import AccessToken

from shared.adapters.check_queue import queue_client
from shared.core.limits import STORAGE_PIPELINE
from shared.shell.settings import StorageSettings
from shared.store.tables import service_client

AZURITE = StorageSettings(connection_string="UseDevelopmentStorage=true")
BY_IDENTITY = StorageSettings(
    table_endpoint="https://acct.table.core.windows.net", queue_endpoint="https://acct.queue.core.windows.net"
)


class _Credential:
    """Never asked: building a client sends nothing."""

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        raise AssertionError("no request is sent")


def _bounds(pipeline) -> tuple[int, float, float]:
    (retry,) = [p for p in pipeline._impl_policies if "Retry" in type(p).__name__]
    config = pipeline._transport.connection_config
    return retry.total_retries, config.timeout, config.read_timeout


@pytest.mark.parametrize("storage", [AZURITE, BY_IDENTITY], ids=["connection-string", "identity"])
def test_storage_clients_retry_and_wait_within_bounds(storage):
    expected = (
        STORAGE_PIPELINE["retry_total"],
        STORAGE_PIPELINE["connection_timeout"],
        STORAGE_PIPELINE["read_timeout"],
    )
    assert expected == (3, 10, 30)  # about two minutes at worst per request, inside the 10-minute timeout
    tables = service_client(storage, credential=_Credential())  # type: ignore[arg-type]
    assert _bounds(tables._client._client._pipeline) == expected
    queue = queue_client(storage, "smtpauth-checks", credential=_Credential())  # type: ignore[arg-type]
    assert _bounds(queue._pipeline) == expected
