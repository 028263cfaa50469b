"""The other switch: whether the organization's default authentication policy lets
Basic SMTP AUTH in (shared.core.basic_auth says what that means).

Two reads at most: ``Get-OrganizationConfig`` for ``DefaultAuthenticationPolicy``,
then, if one is set, ``Get-AuthenticationPolicy -Identity <it>`` for its
``AllowBasicAuthSmtp`` (Microsoft Learn pages of both cmdlets; docs/simulator.md).
No per-user policy is read (``Get-User``): that would cost a request per mailbox.
Any failure is "unknown" (a BasicAuthPolicy with the problem), never a failed check:
the SMTP AUTH switches the check is about were read without it.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.core.exceptions import AzureError

from shared.adapters.exchange_transport import ExchangeTransport
from shared.core.basic_auth import BasicAuthPolicy

log = logging.getLogger(__name__)

ORG_CONFIG_PROPERTIES = ("DefaultAuthenticationPolicy",)
POLICY_PROPERTIES = ("Name", "AllowBasicAuthSmtp")


class _Unexpected(ValueError):
    """An answer that is not the shape the cmdlet documents."""


async def read_basic_auth_policy(transport: ExchangeTransport, **kwargs: Any) -> BasicAuthPolicy:
    tenant = transport.tenant_id
    try:
        return await _read(transport, **kwargs)
    except (AzureError, _Unexpected) as exc:
        text = str(getattr(exc, "message", None) or exc).strip() or type(exc).__name__
        log.warning("tenant %s: authentication policy unavailable: %s", tenant, text)
        return BasicAuthPolicy.unknown(text)


async def _read(transport: ExchangeTransport, **kwargs: Any) -> BasicAuthPolicy:
    config = _one(await transport.invoke("Get-OrganizationConfig", select=ORG_CONFIG_PROPERTIES, **kwargs))
    name = config.get("DefaultAuthenticationPolicy")
    if name is None or name == "":
        return BasicAuthPolicy(True, None, True)  # no default policy: none blocks Basic
    if not isinstance(name, str):
        raise _Unexpected(f"Get-OrganizationConfig: DefaultAuthenticationPolicy is {name!r}, not a name")
    policy = _one(
        await transport.invoke(
            "Get-AuthenticationPolicy", {"Identity": name}, select=POLICY_PROPERTIES, **kwargs
        )
    )
    allow = policy.get("AllowBasicAuthSmtp")
    if not isinstance(allow, bool):
        raise _Unexpected(
            f"Get-AuthenticationPolicy {name!r}: AllowBasicAuthSmtp is {allow!r}, not true/false"
        )
    return BasicAuthPolicy(True, name, allow)


def _one(value: list[dict[str, Any]]) -> dict[str, Any]:
    if len(value) != 1 or not isinstance(value[0], dict):
        raise _Unexpected(f"expected one object, got {len(value)}")
    return value[0]
