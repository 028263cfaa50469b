"""Azure Functions entry points (Python v2 model). Triggers only: the work is in
shared.shell.jobs, the same code the CLI and the demo run."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.shell.settings import Schedules

app = func.FunctionApp()
log = logging.getLogger("smtpauth")

# Read when the host indexes functions (app settings are in the environment by
# then); unset means the default. A malformed one raises SettingsError naming the
# setting, so indexing fails and the host log says which app setting to fix. Both
# timers stop, on purpose: every run reads Settings.from_env(), which refuses the
# same value, so no timer could do its work anyway.
SCHEDULES = Schedules.from_env()


@app.timer_trigger(arg_name="timer", schedule=SCHEDULES.check, run_on_startup=False, use_monitor=True)
async def scheduled_check(timer: func.TimerRequest) -> None:
    # Imported here: indexing the app stays cheap; the work pays its own imports.
    from shared.shell.jobs import raise_if_incomplete
    from shared.shell.jobs import scheduled_check as run_check
    from shared.shell.settings import Settings

    if timer.past_due:
        log.warning("timer is past due; checking now")
    raise_if_incomplete(await run_check(Settings.from_env()))


@app.timer_trigger(arg_name="timer", schedule=SCHEDULES.digest, run_on_startup=False, use_monitor=True)
async def weekly_digest(timer: func.TimerRequest) -> None:
    # Per tenant: compliant or not, open drift, exceptions expiring soon, last good check.
    from shared.shell.jobs import weekly_digest as run_digest
    from shared.shell.settings import Settings

    await run_digest(Settings.from_env())
