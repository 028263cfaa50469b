"""One Functions worker process, for a test to kill: ``python -m tests.faults.queue_worker
<hold seconds>`` takes one message from the check queue (AzureWebJobsStorage,
SMTPAUTH_CHECK_QUEUE) and hides it for ``hold`` seconds, as the host's hold on a
running message that its instance stops renewing when it dies; then it calls the
app's own queue function (function_app.check_tenant), as the host does, and deletes
the message when that returns. Each step is a line on stdout, flushed, for the test.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys

from azure.functions.queue import QueueMessage

from tests.integration.queue_host import load_functions, raw_queue


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


if __name__ == "__main__":
    asyncio.run(work_one(int(sys.argv[1])))
