"""The check queue (Azure Storage Queue): the timer puts one message per due tenant
on it; the queue-triggered worker takes them off (the Functions host does that part).

Messages are Base64 text, as the queue trigger expects with host.json's
``messageEncoding: base64``. No keys in Azure: an identity-based queue endpoint uses
the managed identity (Storage Queue Data Message Sender); Azurite uses its
connection string.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from shared.core.fanout import CheckMessage
from shared.core.limits import STORAGE_PIPELINE

POISON_SUFFIX = "-poison"  # the host's name for where it moves a message it gave up on
# A message not picked up within a day is stale: the next ticks enqueue the tenant
# again, and the overdue check reports it if none of them gets through.
MESSAGE_TTL_S = 24 * 3600
SEND_PARALLEL = 16  # sends in flight: a 1,000-tenant tick enqueues in seconds


class QueueLocation(Protocol):
    """Where the queues live (shell.settings.StorageSettings)."""

    @property
    def connection_string(self) -> str | None: ...

    @property
    def queue_endpoint(self) -> str | None: ...


def queue_client(location: QueueLocation, name: str, credential: AsyncTokenCredential) -> QueueClient:
    """One queue's client, Base64 both ways (what the trigger reads and writes)."""
    encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
    if location.connection_string:
        return QueueClient.from_connection_string(
            location.connection_string,
            name,
            message_encode_policy=encode,
            message_decode_policy=decode,
            **STORAGE_PIPELINE,
        )
    if not location.queue_endpoint:
        raise ValueError(
            "no queue endpoint configured: set AzureWebJobsStorage__queueServiceUri or "
            "AzureWebJobsStorage__accountName"
        )
    return QueueClient(
        location.queue_endpoint,
        name,
        credential=credential,
        message_encode_policy=encode,
        message_decode_policy=decode,
        **STORAGE_PIPELINE,
    )


# Queues known to exist, per endpoint, for the life of the process (as the tables).
_ENSURED: set[str] = set()


async def ensure_queue(queue: QueueClient) -> None:
    if queue.url in _ENSURED:
        return
    with contextlib.suppress(ResourceExistsError):
        await queue.create_queue()
    _ENSURED.add(queue.url)


async def send_checks(queue: QueueClient, messages: Sequence[CheckMessage]) -> list[CheckMessage]:
    """Enqueue each message, a few at a time; returns those sent. A failed send is
    logged by the caller and retried by the next tick (the tenant stays due)."""
    await ensure_queue(queue)
    gate = asyncio.Semaphore(SEND_PARALLEL)

    async def one(message: CheckMessage) -> CheckMessage:
        async with gate:
            await queue.send_message(message.to_text(), time_to_live=MESSAGE_TTL_S)
            return message

    outcomes = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed and len(failed) == len(outcomes):
        raise failed[0]  # the queue itself is unreachable: the timer's run fails visibly
    return [o for o in outcomes if isinstance(o, CheckMessage)]
