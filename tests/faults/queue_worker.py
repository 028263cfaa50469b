"""One Functions worker process, for a test to kill: ``python -m tests.faults.queue_worker
<hold seconds>`` takes one message from the check queue (AzureWebJobsStorage,
SMTPAUTH_CHECK_QUEUE) and hides it for ``hold`` seconds, as the host's hold on a
running message that its instance stops renewing when it dies; then it calls the
app's own queue function (function_app.check_tenant), as the host does, and deletes
the message when that returns. Each step is a line on stdout, flushed, for the test.

``killed_when`` is the test's side: start one, SIGKILL it at the moment asked for.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage

from tests.integration.queue_host import load_functions, raw_queue

from .outage import until

ROOT = Path(__file__).resolve().parents[2]


async def work_one(hold_s: int) -> None:
    check_tenant = load_functions()["check_tenant"]
    storage = os.environ["AzureWebJobsStorage"]  # noqa: SIM112 (the Functions setting's own name)
    async with raw_queue(storage, os.environ["SMTPAUTH_CHECK_QUEUE"]) as queue:
        while True:
            batch = [m async for m in queue.receive_messages(max_messages=1, visibility_timeout=hold_s)]
            if batch:
                break
            await asyncio.sleep(0.05)
        (message,) = batch
        print(f"took {message.id} (dequeue count {message.dequeue_count})", flush=True)
        body = base64.b64decode(message.content, validate=True)  # the trigger's Base64
        await check_tenant(QueueMessage(id=message.id, body=body, dequeue_count=message.dequeue_count))
        await queue.delete_message(message)
        print("done", flush=True)


async def enqueue(app_env: Mapping[str, str], text: str) -> None:
    """A check message on the app's queue, Base64 as the timer sends it."""
    async with raw_queue(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]) as queue:
        with contextlib.suppress(ResourceExistsError):
            await queue.create_queue()
        await queue.send_message(base64.b64encode(text.encode()).decode())


async def killed_when(
    condition: Callable[[], object], what: str, *, hold_s: int, output: Path, within_s: float = 60
) -> str:
    """Start one worker, SIGKILL it as soon as ``condition`` holds (within ``within_s``),
    and return what it wrote. Nothing of it runs after: no ``finally``, no lease released."""
    with output.open("wb") as out:  # a file, not a pipe: nothing can block on it
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.faults.queue_worker", str(hold_s),
            cwd=ROOT, env=os.environ.copy(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        await until(lambda: condition() or worker.returncode is not None, within_s, what)
        ended_first = worker.returncode is not None
        if not ended_first:
            worker.send_signal(signal.SIGKILL)
            await asyncio.wait_for(worker.wait(), 10)
    finally:
        if worker.returncode is None:
            worker.kill()
            await asyncio.wait_for(worker.wait(), 10)
    said = await asyncio.to_thread(output.read_text)
    assert not ended_first, f"the worker ended before {what}: {said}"
    assert worker.returncode == -signal.SIGKILL and "took " in said, said
    return said


if __name__ == "__main__":
    asyncio.run(work_one(int(sys.argv[1])))
