"""The Functions host's part of a queue trigger, played honestly for tests (the host
cannot run here): take a message from the real Azurite queue, Base64-decode it as
``messageEncoding: base64`` does, call the registered function's own code with an
``azure.functions`` QueueMessage carrying the dequeue count, delete the message when
the call returns, make it visible again after ``visibilityTimeout`` when it raises or
times out (``functionTimeout``), and move it to ``<queue>-poison`` once it has been
tried ``maxDequeueCount`` times. Several workers drain one queue concurrently, as
instances would, each with the same function or its own (``drain_with``: one runtime
per instance). A worker can also die on chosen messages (``dies_on``): the invocation
is stopped mid-way, nothing it would have done after that happens, and the host sees
the call fail, as when the worker process is killed.

Two things differ from Azure, on purpose: the timeouts are seconds, not minutes, and a
timed-out call is cancelled (its ``finally`` blocks run, so its lease is released);
a killed process would leave the lease to expire on its own (CHECK_LEASE), which
is why host.json's visibilityTimeout is at least that long.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

ROOT = Path(__file__).resolve().parents[2]
HOST = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]

Function = Callable[[QueueMessage], Awaitable[None]]


class WorkerDied(RuntimeError):
    """The worker process running the invocation stopped (what the host observes)."""


def load_functions() -> dict[str, Any]:
    """The app as the host indexes it, each function's own code by name."""
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    return {f.get_function_name(): f.get_user_function() for f in module.app.get_functions()}


def raw_queue(connection_string: str, name: str) -> QueueClient:
    """A client that sees the bytes on the queue: no encode or decode policy."""
    return QueueClient.from_connection_string(connection_string, name)


@dataclass
class HostLog:
    calls: Counter[str] = field(default_factory=Counter)  # function name -> invocations
    failures: list[tuple[str, str]] = field(default_factory=list)  # (body, why)
    poisoned: list[str] = field(default_factory=list)  # bodies moved to <queue>-poison
    bodies: list[str] = field(default_factory=list)  # every decoded body handed over


class QueueHost:
    def __init__(
        self,
        connection_string: str,
        queue: str,
        function: Any,
        *,
        name: str,
        timeout_s: float = 5.0,
        visibility_s: int = 0,
        max_dequeue: int = HOST["maxDequeueCount"],
        poison: bool = True,
        log: HostLog | None = None,
        dies_on: Callable[[str], bool] | None = None,
        dies_after_s: float = 0.2,
    ) -> None:
        self.queue = raw_queue(connection_string, queue)
        self.poison = raw_queue(connection_string, queue + "-poison") if poison else None
        self.function = function
        self.name = name
        self.timeout_s = timeout_s
        self.visibility_s = visibility_s
        self.max_dequeue = max_dequeue
        self.log = log or HostLog()
        self.dies_on = dies_on
        self.dies_after_s = dies_after_s
        self._busy = 0

    async def __aenter__(self) -> Self:
        for queue in (self.queue, self.poison):
            if queue is not None:
                with contextlib.suppress(ResourceExistsError):
                    await queue.create_queue()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.queue.close()
        if self.poison is not None:
            await self.poison.close()

    async def _call(self, function: Function, msg: QueueMessage, text: str) -> None:
        if self.dies_on is None or not self.dies_on(text):
            await function(msg)
            return
        # Killed mid-way: the call is stopped where it is (a cancelled task's finally
        # blocks still run; a killed process's lease would expire on its own instead).
        call = asyncio.ensure_future(function(msg))
        done, _ = await asyncio.wait({call}, timeout=self.dies_after_s)
        if done:
            call.result()
            raise AssertionError("the invocation finished before its worker could die: make it slower")
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call
        raise WorkerDied(f"the worker running message {msg.id} stopped")

    async def _one(self, message: Any, function: Function) -> None:
        body = base64.b64decode(message.content, validate=True)  # what the trigger decodes
        text = body.decode()
        self.log.bodies.append(text)
        msg = QueueMessage(id=message.id, body=body, dequeue_count=message.dequeue_count)
        self.log.calls[self.name] += 1
        try:
            await asyncio.wait_for(self._call(function, msg, text), self.timeout_s)
        except (Exception, TimeoutError) as exc:
            self.log.failures.append((text, f"{type(exc).__name__}: {exc}"))
            if message.dequeue_count >= self.max_dequeue and self.poison is not None:
                await self.poison.send_message(message.content)  # the same Base64 text
                await self.queue.delete_message(message)
                self.log.poisoned.append(text)
            else:
                await self.queue.update_message(message, visibility_timeout=self.visibility_s)
            return
        await self.queue.delete_message(message)

    async def _worker(self, function: Function) -> None:
        idle = 0
        while True:
            # The host's own hold on a message it is running: longer than the call may take.
            batch = [m async for m in self.queue.receive_messages(
                messages_per_page=1, max_messages=1, visibility_timeout=int(self.timeout_s) + 30
            )]  # fmt: skip
            if batch:
                idle = 0
                self._busy += 1
                try:
                    await self._one(batch[0], function)
                finally:
                    self._busy -= 1
                continue
            props = await self.queue.get_queue_properties()
            if props.approximate_message_count == 0 and self._busy == 0:
                idle += 1
                if idle >= 3:  # empty, nothing in flight, nothing waiting to come back
                    return
            await asyncio.sleep(0.05)

    async def drain(self, workers: int = 1) -> HostLog:
        return await self.drain_with([self.function] * workers)

    async def drain_with(self, functions: Sequence[Function]) -> HostLog:
        """One worker per function, concurrently, until the queue stays empty."""
        await asyncio.gather(*(self._worker(f) for f in functions))
        return self.log


async def drain_all(
    connection_string: str,
    queue: str,
    functions: dict[str, Any],
    *,
    workers: int = 4,
    timeout_s: float = 5.0,
    poison_timeout_s: float = 5.0,
) -> HostLog:
    """The check queue with ``workers`` instances, then its poison queue, as the host
    would. ``timeout_s`` is the check function's (a test that wants checks to time out
    makes it short); the poison function keeps its own, so a loaded machine cannot
    time out the one invocation meant to finish."""
    log = HostLog()
    async with QueueHost(
        connection_string, queue, functions["check_tenant"], name="check_tenant", timeout_s=timeout_s, log=log
    ) as host:
        await host.drain(workers)
    async with QueueHost(
        connection_string,
        queue + "-poison",
        functions["check_given_up"],
        name="check_given_up",
        timeout_s=poison_timeout_s,
        poison=False,
        log=log,
    ) as host:
        await host.drain(1)
    return log
