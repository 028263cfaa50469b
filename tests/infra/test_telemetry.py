"""The watchdog's event reaches Application Insights as customDimensions only in the
Python worker's OpenTelemetry mode: host.json, the app setting and the pinned
distro must all say so (host-managed logging drops ``extra`` fields:
azure-functions-python-worker#1327); and the alert queries the event the code logs."""

from __future__ import annotations

import json

from shared.shell.watchdog import CHECK_COMPLETED
from tests.infra.bicep import INFRA, ROOT, resources
from tests.infra.test_app_settings import bicep_settings


def test_host_json_runs_the_worker_in_opentelemetry_mode():
    assert json.loads((ROOT / "host.json").read_text())["telemetryMode"] == "OpenTelemetry"


def test_the_app_setting_and_the_pinned_distro_are_deployed():
    assert bicep_settings()["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    pins = (ROOT / "requirements.txt").read_text().split()
    assert any(p.startswith("azure-monitor-opentelemetry==") for p in pins)


def test_the_exporter_signs_in_as_the_identity():
    value = bicep_settings()["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert value.startswith("ClientId=${identityClientId}") and value.endswith(";Authorization=AAD")


def test_the_alert_queries_the_event_the_code_logs():
    (rule,) = [r for r in resources(INFRA / "app" / "alerts.bicep") if r.type.endswith("scheduledQueryRules")]
    (criterion,) = rule.config["properties"]["criteria"]["allOf"]
    assert f'customDimensions.event == "{CHECK_COMPLETED}"' in criterion["query"]
    assert criterion["operator"] == "LessThan" and criterion["threshold"] == 1
