"""Every property name in infra/*.bicep exists in the Azure SDK's management model
for that resource type and API version: the schema half of what `bicep build` would
check (BCP037), which cannot run here. Types and required properties are left to
`azd provision` (README "Deploy", "What this machine cannot check")."""

from __future__ import annotations

import pytest

from tests.infra.bicep import ROOT, Resource, bicep_files, parsed, resources
from tests.infra.sdk_models import BICEP_KEYS, MODELS, Model, unknown_names

DEPLOYED = [r for r in resources() if not r.existing]


def test_every_bicep_file_parses():
    # checkov skips a file it cannot parse and counts it only as one "parsing error".
    assert [p.relative_to(ROOT) for p in bicep_files()] and all(parsed(p) for p in bicep_files())


def test_every_resource_type_and_api_version_has_a_model():
    assert {(r.type, r.api_version) for r in resources()} <= {(t, m.api_version) for t, m in MODELS.items()}


@pytest.mark.parametrize("model", MODELS.values(), ids=MODELS.keys())
def test_the_sdk_package_is_for_that_api_version(model: Model):
    assert model.carries_api_version(), f"{model.package} has no {model.api_version}"


@pytest.mark.parametrize("resource", DEPLOYED, ids=[r.where for r in DEPLOYED])
def test_every_property_name_exists_in_the_model(resource: Resource):
    config = {k: v for k, v in resource.config.items() if k not in BICEP_KEYS}
    assert unknown_names(config, MODELS[resource.type].node(), resource.symbol) == []


def test_a_misspelt_or_misplaced_property_is_caught():
    site = MODELS["Microsoft.Web/sites"].node()
    config = {
        "properties": {
            "httpsOnly": True,
            "httpOnly": True,
            "siteConfig": {"appSettings": [{"name": "A", "value": "b", "slot": 1}]},
            "functionAppConfig": {"scaleAndConcurrency": {"instanceMemoryMb": 2048}},
        },
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {"/subscriptions/x": {"clientId": "y"}},
        },
    }
    assert unknown_names(config, site, "site") == [
        "site.properties.httpOnly",
        "site.properties.siteConfig.appSettings[0].slot",
        "site.properties.functionAppConfig.scaleAndConcurrency.instanceMemoryMb",
    ]


def test_a_flattened_msrest_model_is_read_as_nested():
    insights = MODELS["Microsoft.Insights/components"].node()
    assert unknown_names(
        {"properties": {"DisableLocalAuth": True, "DisableLocalAuthX": 1}}, insights, "ai"
    ) == ["ai.properties.DisableLocalAuthX"]
