"""The watchdog's signal: one structured "check_completed" log event per finished
check, with how many tenants it checked and how many of them could not be checked.

In Azure the Python worker's OpenTelemetry mode (host.json ``telemetryMode``,
``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY``) turns a record's ``extra`` fields into
Application Insights customDimensions; infra/app/alerts.bicep emails when no such
event arrived for a while, so a stopped app does not go unnoticed. Plain logging
here: the worker owns the exporter, and importing it would cost every cold start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared.core.model import CheckResult, Status

CHECK_COMPLETED = "check_completed"  # infra/app/alerts.bicep queries this value
log = logging.getLogger("smtpauth.watchdog")


def completed_fields(results: Sequence[CheckResult], trigger: str) -> dict[str, str | int]:
    """The event's dimensions: which trigger ran the check, tenants checked, how many
    could not be checked, how many have drift."""
    return {
        "event": CHECK_COMPLETED,
        "trigger": trigger,
        "tenants": len(results),
        "failures": sum(r.status is Status.ERROR for r in results),
        "drift": sum(r.status is Status.DRIFT for r in results),
    }


def check_completed(results: Sequence[CheckResult], trigger: str) -> None:
    fields = completed_fields(results, trigger)
    log.info(
        "check completed: %d tenant(s), %d could not be checked",
        fields["tenants"],
        fields["failures"],
        extra=fields,
    )
