"""What the Azure SDK's management models say a resource body may hold.

Each ``azure-mgmt-*`` package is generated from the same REST API specs that the
Bicep types come from, for one API version (or one subpackage per version). A
model is read as a tree of wire names: new-style models (``_attr_to_rest_field``)
and msrest ones (``_attribute_map``, flattened ``properties.x`` keys) alike.
"""

from __future__ import annotations

import enum
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_MODEL_REF = re.compile(r"_models\.(\w+)")


@dataclass
class Node:
    """An object's known wire names (``fields``), or a map whose keys are free
    (``free_keys``) and whose values are ``values`` (None: anything)."""

    fields: dict[str, Node | None] = field(default_factory=dict)
    free_keys: bool = False
    values: Node | None = None


@dataclass(frozen=True)
class Model:
    module: str  # the models module
    name: str  # the resource body's class
    api_version: str
    package: str  # where the API version must appear (operations or a versioned subpackage)

    def node(self) -> Node:
        models = importlib.import_module(self.module)
        return _node(models, getattr(models, self.name), {})

    def carries_api_version(self) -> bool:
        pkg = importlib.import_module(self.package)
        folder = Path(pkg.__file__ or "").parent
        return any(f'"{self.api_version}"' in p.read_text() for p in folder.rglob("*.py"))


def _node(models: ModuleType, cls: type, seen: dict[type, Node]) -> Node:
    if cls in seen:
        return seen[cls]
    node = seen[cls] = Node()
    if hasattr(cls, "_attribute_map"):
        _from_attribute_map(models, cls, node, seen)
    else:
        cls.__new__(cls)  # new-style models compute _attr_to_rest_field on first construction
        hints: dict[str, Any] = {}
        for base in reversed(cls.__mro__):
            hints.update(getattr(base, "__annotations__", {}))
        for attr, rest in cls._attr_to_rest_field.items():  # type: ignore[attr-defined]
            node.fields[rest._rest_name] = _typed(models, str(hints.get(attr, "")), seen)
    return node


def _model_class(models: ModuleType, name: str) -> type | None:
    cls = getattr(models, name, None)
    if isinstance(cls, type) and not issubclass(cls, enum.Enum):
        return cls
    return None  # an enum (Union[str, SomeEnum]) or a primitive: a value, not an object


def _typed(models: ModuleType, annotation: str, seen: dict[type, Node]) -> Node | None:
    classes = [c for c in (_model_class(models, n) for n in _MODEL_REF.findall(annotation)) if c]
    child = _node(models, classes[0], seen) if classes else None
    if re.search(r"\b[Dd]ict\[", annotation):
        return Node(free_keys=True, values=child)
    return child


def _from_attribute_map(models: ModuleType, cls: type, node: Node, seen: dict[type, Node]) -> None:
    for spec in cls._attribute_map.values():  # type: ignore[attr-defined]
        parts = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", spec["key"])]
        here = node
        for part in parts[:-1]:
            nxt = here.fields.get(part)
            if nxt is None:
                nxt = here.fields[part] = Node()
            here = nxt
        kind = spec["type"]
        cls = _model_class(models, kind.strip("[]{}"))
        child = _node(models, cls, seen) if cls else None
        here.fields[parts[-1]] = Node(free_keys=True, values=child) if kind.startswith("{") else child


def unknown_names(value: Any, node: Node | None, path: str) -> list[str]:
    """Every key in ``value`` (Bicep data) that ``node`` does not know, as paths."""
    if node is None or value is None:
        return []
    if isinstance(value, list):
        return [bad for i, item in enumerate(value) for bad in unknown_names(item, node, f"{path}[{i}]")]
    if not isinstance(value, dict) or (len(value) == 1 and next(iter(value)) in {"function", "operator"}):
        return []
    if "loop_type" in value:  # a [for ...] inside a property
        return unknown_names(value["config"], node, path)
    bad: list[str] = []
    for key, item in value.items():
        if node.free_keys:
            bad += unknown_names(item, node.values, f"{path}.{key}")
        elif key not in node.fields:
            bad.append(f"{path}.{key}")
        else:
            bad += unknown_names(item, node.fields[key], f"{path}.{key}")
    return bad


WEB = "azure.mgmt.web"
STORAGE = "azure.mgmt.storage"
MONITOR = "azure.mgmt.monitor"

# Each resource type the deployment uses -> its PUT body's model for that API version.
MODELS: dict[str, Model] = {
    "Microsoft.Resources/resourceGroups": Model(
        "azure.mgmt.resource.resources.models", "ResourceGroup", "2025-04-01", "azure.mgmt.resource.resources"
    ),
    "Microsoft.ManagedIdentity/userAssignedIdentities": Model(
        "azure.mgmt.msi.v2024_11_30.models", "Identity", "2024-11-30", "azure.mgmt.msi.v2024_11_30"
    ),
    **{
        f"Microsoft.Web/{kind}": Model(f"{WEB}.models", name, "2025-05-01", WEB)
        for kind, name in (
            ("serverfarms", "AppServicePlan"),
            ("sites", "Site"),
            ("sites/basicPublishingCredentialsPolicies", "CsmPublishingCredentialsPoliciesEntity"),
        )
    },
    **{
        f"Microsoft.Storage/storageAccounts{kind}": Model(f"{STORAGE}.models", name, "2026-09-01", STORAGE)
        for kind, name in (
            ("", "StorageAccountCreateParameters"),
            ("/blobServices", "BlobServiceProperties"),
            ("/blobServices/containers", "BlobContainer"),
            ("/tableServices", "TableServiceProperties"),
            ("/tableServices/tables", "Table"),
            ("/queueServices", "QueueServiceProperties"),
            ("/queueServices/queues", "StorageQueue"),
        )
    },
    "Microsoft.KeyVault/vaults": Model(
        "azure.mgmt.keyvault.models", "VaultCreateOrUpdateParameters", "2026-05-15", "azure.mgmt.keyvault"
    ),
    "Microsoft.OperationalInsights/workspaces": Model(
        "azure.mgmt.loganalytics.models", "Workspace", "2025-07-01", "azure.mgmt.loganalytics"
    ),
    "Microsoft.Insights/components": Model(
        "azure.mgmt.applicationinsights.v2020_02_02.models",
        "ApplicationInsightsComponent",
        "2020-02-02",
        "azure.mgmt.applicationinsights.v2020_02_02",
    ),
    "Microsoft.Insights/actionGroups": Model(
        f"{MONITOR}.models", "ActionGroupResource", "2023-01-01", MONITOR
    ),
    "Microsoft.Insights/scheduledQueryRules": Model(
        f"{MONITOR}.models", "ScheduledQueryRuleResource", "2023-12-01", MONITOR
    ),
    "Microsoft.Authorization/roleAssignments": Model(
        "azure.mgmt.authorization.v2022_04_01.models",
        "RoleAssignmentCreateParameters",
        "2022-04-01",
        "azure.mgmt.authorization.v2022_04_01",
    ),
}

# Bicep's own keywords in a resource body, not the resource's properties.
BICEP_KEYS = frozenset({"name", "parent", "scope", "dependsOn"})
