"""The settings a deployment of this product must never loosen, as checkov checks.

checkov's Bicep checks have nothing for shared-key access or Application Insights
local auth, and its https/TLS/FTP checks read App Service properties that Flex
Consumption rejects (ftpsState) or leave unset values passing; these read exactly the
properties infra/app/*.bicep sets. A value checkov cannot resolve (a parameter) fails:
these must be literals.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


def _at(conf: dict[str, Any], path: str) -> Any:
    value: Any = conf
    for key in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class _Equals(BaseResourceCheck):
    """Passes when every ``path`` in ``expected`` holds exactly that value."""

    def __init__(self, id: str, name: str, resource: str, expected: dict[str, Any]) -> None:
        self.expected = expected
        super().__init__(
            name=name, id=id, categories=(CheckCategories.GENERAL_SECURITY,), supported_resources=(resource,)
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = list(self.expected)
        ok = all(_at(conf, path) == value for path, value in self.expected.items())
        return CheckResult.PASSED if ok else CheckResult.FAILED


CHECKS = (
    _Equals(
        "CKV_SMTPAUTH_1",
        "Storage accepts no shared key (identity-based access only)",
        "Microsoft.Storage/storageAccounts",
        {"properties/allowSharedKeyAccess": False},
    ),
    _Equals(
        "CKV_SMTPAUTH_2",
        "Storage allows no public blob access",
        "Microsoft.Storage/storageAccounts",
        {"properties/allowBlobPublicAccess": False},
    ),
    _Equals(
        "CKV_SMTPAUTH_3",
        "Application Insights takes no instrumentation-key writes (local auth off)",
        "Microsoft.Insights/components",
        {"properties/DisableLocalAuth": True},
    ),
    _Equals(
        "CKV_SMTPAUTH_4",
        "The function app is https only",
        "Microsoft.Web/sites",
        {"properties/httpsOnly": True},
    ),
    _Equals(
        "CKV_SMTPAUTH_5",
        "The function app and its SCM site require TLS 1.2",
        "Microsoft.Web/sites",
        {"properties/siteConfig/minTlsVersion": "1.2", "properties/siteConfig/scmMinTlsVersion": "1.2"},
    ),
    _Equals(
        "CKV_SMTPAUTH_6",
        "Basic-auth publishing (FTP, SCM) is off",
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies",
        {"properties/allow": False},
    ),
    _Equals(
        "CKV_SMTPAUTH_7",
        "Key Vault uses Azure RBAC, not access policies",
        "Microsoft.KeyVault/vaults",
        {"properties/enableRbacAuthorization": True},
    ),
    _Equals(
        "CKV_SMTPAUTH_8",
        "Storage requires TLS 1.2",
        "Microsoft.Storage/storageAccounts",
        {"properties/minimumTlsVersion": "TLS1_2"},
    ),
)
