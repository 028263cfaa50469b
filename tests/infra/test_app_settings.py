"""The app settings the code reads are exactly those the Bicep sets: none forgotten,
none unused. The code's list comes from the code itself (what its settings reader
and the identity check look up, and every literal key read from an environment
mapping in shared/), never from a copy kept here."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from shared.adapters.credentials import check_identity_env
from shared.shell.settings import Settings
from tests.infra.bicep import INFRA, ROOT, is_expression, parameter, resources, variable

FUNCTION = INFRA / "app" / "function.bicep"
MAIN = INFRA / "main.bicep"

# Read by the code, set by someone other than this deployment.
NOT_DEPLOYED = {
    "AzureWebJobsStorage": "a connection string: Azurite and local runs only; Azure uses the identity-based form",
    "AzureWebJobsStorage__accountName": "the short identity-based form; the deployment sets the service URIs",
    "IDENTITY_ENDPOINT": "set by the Functions platform (managed identity protocol)",
    "IDENTITY_HEADER": "set by the Functions platform",
    "IMDS_ENDPOINT": "Azure Arc's managed identity; never on Functions",
    "SSL_CERT_FILE": "a CA bundle for a TLS stand-in (the simulator's Entra); Azure uses the system's",
}
# Set by the deployment, read by the Functions host or the Python worker, not the code.
HOST_READS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
}
IDENTITY_BASED = {
    "AzureWebJobsStorage__tableServiceUri": "https://st.table.core.windows.net",
    "AzureWebJobsStorage__queueServiceUri": "https://st.queue.core.windows.net",
}


class Recording(Mapping[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self.values

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.read.add(name)
        return self.values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def code_reads() -> set[str]:
    env = Recording(IDENTITY_BASED)
    Settings.from_env(env)
    check_identity_env(env)
    return env.read


def literal_env_keys() -> set[str]:
    """Every string literal in shared/ read as ``<...env...>.get("X")`` or ``<...env...>["X"]``."""
    keys: set[str] = set()
    for path in (ROOT / "shared").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            target, key = None, None
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
            ):
                target, key = node.func.value, node.args[0] if node.args else None
            elif isinstance(node, ast.Subscript):
                target, key = node.value, node.slice
            if target is None or not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue
            if "env" in ast.unparse(target).lower():
                keys.add(key.value)
    return keys


def bicep_settings() -> dict[str, object]:
    """name -> value of every app setting function.bicep sets (main.bicep's product
    settings included; the Teams webhook settings are named by a parameter)."""
    settings: dict[str, object] = {}
    for var in ("hostStorageSettings", "telemetrySettings", "identitySettings"):
        settings.update({s["name"]: s["value"] for s in variable(FUNCTION, var)})
    settings.update({s["name"]: s["value"] for s in variable(MAIN, "productSettings")})
    return settings


def test_every_setting_the_code_reads_is_deployed_and_every_deployed_one_is_read():
    reads = code_reads() - set(NOT_DEPLOYED)
    deployed = set(bicep_settings()) - HOST_READS
    assert sorted(reads - deployed) == [], "read by the code, not set by infra/"
    assert sorted(deployed - reads) == [], "set by infra/, read by nothing"


def test_no_literal_environment_read_escapes_the_settings_reader():
    assert literal_env_keys() <= code_reads() | set(NOT_DEPLOYED)


def test_the_recording_sees_what_the_reader_reads():
    # Guards the two tests above against an empty list passing them.
    assert {"SMTPAUTH_SCHEDULE", "AZURE_CLIENT_ID", "AzureWebJobsStorage__queueServiceUri"} <= code_reads()


def test_every_default_in_bicep_is_the_codes_own():
    baseline = Settings.from_env(IDENTITY_BASED)
    for name, value in bicep_settings().items():
        if not name.startswith("SMTPAUTH_") or name == "SMTPAUTH_HOME_TENANT":
            continue
        if is_expression(value):  # string(param)
            value = value["function"]["parameters"]["value_to_convert"]  # type: ignore[index]
        default = parameter(MAIN, str(value))["default"]
        deployed = Settings.from_env({**IDENTITY_BASED, name: str(default)})
        assert deployed == baseline, f"{name}: main.bicep's default {default!r} is not the code's"


def test_the_webhook_settings_are_key_vault_references_as_the_identity():
    value = variable(FUNCTION, "webhookSettings")["config"]["value"]
    assert value.startswith("@Microsoft.KeyVault(VaultName=")
    (site,) = [r for r in resources(FUNCTION) if r.type == "Microsoft.Web/sites"]
    # Without it the host resolves references as a system-assigned identity, which has none.
    assert site.config["properties"]["keyVaultReferenceIdentity"] == "identityId"


def test_no_setting_flex_consumption_rejects():
    # functions-app-settings "Flex Consumption plan deprecations"; deployment.md 1.5.
    rejected = {
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_WORKER_RUNTIME_VERSION",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "SCM_DO_BUILD_DURING_DEPLOYMENT",
        "ENABLE_ORYX_BUILD",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "WEBSITE_CONTENTSHARE",
        "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
        "FUNCTIONS_MAX_HTTP_CONCURRENCY",
        "FUNCTIONS_WORKER_PROCESS_COUNT",
        "WEBSITE_NODE_DEFAULT_VERSION",
        "WEBSITE_TIME_ZONE",
        "TZ",
    }
    assert set(bicep_settings()) & rejected == set()
    assert all(":" not in name for name in bicep_settings())
    names = {key for r in resources() for key in _keys(r.config)}
    flex_rejects = {
        "alwaysOn",
        "ftpsState",
        "use32BitWorkerProcess",
        "preWarmedInstanceCount",
        "linuxFxVersion",
    }
    flex_rejects |= {"functionAppScaleLimit", "netFrameworkVersion", "containerSize"}
    assert names & flex_rejects == set()


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)
