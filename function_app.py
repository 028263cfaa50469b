"""Azure Functions entry points (Python v2 model). Triggers only: the work is in
shared.shell.jobs, the same code the CLI and the demo run.

timer -> fan-out (one message per due tenant) -> check queue -> worker (one tenant);
a message the host gave up on -> <queue>-poison -> recorded and told; GET /api/health
-> the health view, for uptime monitors and dashboards.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from shared.shell.settings import Schedules, check_queue_setting

app = func.FunctionApp()
log = logging.getLogger("smtpauth")

# Read when the host indexes functions (app settings are in the environment by
# then); unset means the default. A malformed one raises SettingsError naming the
# setting, so indexing fails and the host log says which app setting to fix. Both
# timers stop, on purpose: every run reads Settings.from_env(), which refuses the
# same value, so no timer could do its work anyway.
SCHEDULES = Schedules.from_env()
# The queue triggers name their queue at indexing too (SMTPAUTH_CHECK_QUEUE); the
# connection is AzureWebJobsStorage: Azurite locally, AzureWebJobsStorage__queueServiceUri
# and the managed identity in Azure. The poison queue is the host's: "<queue>-poison".
CHECK_QUEUE = check_queue_setting()
CONNECTION = "AzureWebJobsStorage"


@app.timer_trigger(arg_name="timer", schedule=SCHEDULES.check, run_on_startup=False, use_monitor=True)
async def scheduled_check(timer: func.TimerRequest) -> None:
    # Imported here: indexing the app stays cheap; the work pays its own imports.
    from shared.shell.jobs import enqueue_due
    from shared.shell.settings import Settings

    if timer.past_due:
        log.warning("timer is past due; deciding which tenants are due now")
    await enqueue_due(Settings.from_env())


@app.queue_trigger(arg_name="msg", queue_name=CHECK_QUEUE, connection=CONNECTION)
async def check_tenant(msg: func.QueueMessage) -> None:
    # One tenant per message. Raising makes the host try again (visibilityTimeout
    # later), up to maxDequeueCount; a recorded "could not check" does not raise.
    from shared.shell.jobs import check_queued
    from shared.shell.settings import Settings

    await check_queued(Settings.from_env(), msg.get_body().decode("utf-8", "replace"), msg.dequeue_count or 1)


@app.queue_trigger(arg_name="msg", queue_name=CHECK_QUEUE + "-poison", connection=CONNECTION)
async def check_given_up(msg: func.QueueMessage) -> None:
    # The host moved a check here after maxDequeueCount failed attempts: say so.
    from shared.shell.jobs import record_poisoned
    from shared.shell.settings import Settings

    await record_poisoned(Settings.from_env(), msg.get_body().decode("utf-8", "replace"))


@app.timer_trigger(arg_name="timer", schedule=SCHEDULES.digest, run_on_startup=False, use_monitor=True)
async def weekly_digest(timer: func.TimerRequest) -> None:
    # Per tenant: compliant or not, open drift, exceptions expiring soon, last good check.
    from shared.shell.jobs import weekly_digest as run_digest
    from shared.shell.settings import Settings

    await run_digest(Settings.from_env())


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    # The health view (what `status --json` prints): 200 while the timer runs and every
    # tenant's checks arrive, 503 when the timer is late or a tenant is overdue (or the
    # view cannot be read). A function key, never anonymous: it lists the tenants.
    from shared.shell.jobs import health_check

    status, document = await health_check()
    return func.HttpResponse(
        json.dumps(document),
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
