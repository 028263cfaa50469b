"""``--tenant`` names a tenant by its GUID or its initial domain; every command
works on the GUID, found through the tenant rows."""

from __future__ import annotations

from shared.core.commands import tenant_add
from shared.core.validation import is_guid
from shared.shell.cli.args import UsageError
from shared.store import DesiredStateStore


async def resolve_tenant(desired: DesiredStateStore, tenant: str) -> str:
    """The tenant id that ``tenant`` (a GUID or an initial domain) names. A GUID is
    taken as it is (history of a removed tenant is still readable); a domain must be
    the id or initial domain of exactly one tenant row."""
    if is_guid(tenant):
        return tenant.lower()
    found = await desired.tenants_named(tenant)
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(
            f"no tenant row has the initial domain {tenant!r} (`tenant list` shows them; "
            f"add one with {tenant_add()})"
        )
    raise UsageError(f"tenants {', '.join(found)} all have the initial domain {tenant!r}: give the GUID")
