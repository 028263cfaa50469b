"""Which grant a tenant is missing, from what ``tenant verify`` saw, in words.

Three calls, in order: a token for Exchange Online in the tenant, ``Get-TransportConfig``
and the sign-in logs. Each missing grant fails one of them its own way
(docs/tenants.md; /work/shared/reference/deployment.md, "Onboarding a customer tenant"):

- no consent in the customer tenant: Entra gives no token (``AADSTS7000229``, the app
  has no service principal there; ``AADSTS700016`` / ``65001`` on older answers);
- consent but no Exchange role: Exchange answers 401 or 403;
- no Entra ID P1: Graph answers 403 ``Authentication_RequestFromNonPremiumTenantOrB2CTenant``;
  no ``AuditLog.Read.All`` (or ``Directory.Read.All``): 403 ``Authorization_RequestDenied``.

Anything else (no answer, an unexpected error) says only that it could not tell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from shared.core.commands import exchange_role_group_commands
from shared.core.grant_delay import GRANT_DELAY
from shared.core.model import EvidencePolicy, Mode

EXCHANGE_APP_ROLE = "Exchange.ManageAsApp"
# Graph application permissions the sign-in evidence needs (docs/permissions.md: both).
EVIDENCE_PERMISSIONS = ("AuditLog.Read.All", "Directory.Read.All")
# The directory role the tenant's reader needs per mode (consent cannot assign one).
DIRECTORY_ROLES = {Mode.REPORT: "Global Reader", Mode.REMEDIATE: "Exchange Administrator"}

NO_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
# Entra's answers for an app that has no service principal in the tenant (not consented).
NO_CONSENT_CODES = frozenset({"7000229", "700016", "65001"})
# The app's federated credential does not match the identity's assertion (home setup).
FEDERATION_FIELDS = {"700211": "issuer", "700212": "audience", "700213": "subject"}
_AADSTS = re.compile(r"AADSTS(\d+)")


class Outcome(StrEnum):
    OK = "ok"
    MISSING = "missing"  # a grant or licence is missing: the admin has something to do
    UNKNOWN = "unknown"  # could not tell: no answer, or an answer that names no grant
    SKIPPED = "skipped"  # not tried: an earlier step failed


@dataclass(frozen=True)
class Seen:
    """What one call answered. ``answered`` False: no answer at all (connection
    refused, timed out, the identity endpoint unreachable)."""

    ok: bool = False
    status: int | None = None
    code: str = ""  # Graph's error code; Entra's AADSTS number is read from the text
    text: str = ""
    answered: bool = True


@dataclass(frozen=True)
class Reach:
    """The tenant as verify reaches it. ``app_id`` None: the managed identity itself
    (the home tenant, or a deployment without a multi-tenant app)."""

    tenant_id: str
    app_id: str | None
    mode: Mode = Mode.REPORT
    consent_url: str | None = None
    when_evidence_unavailable: EvidencePolicy = EvidencePolicy.HOLD

    @property
    def reader(self) -> str:
        return "the app's service principal" if self.app_id else "the managed identity"


@dataclass(frozen=True)
class Verdict:
    check: str
    outcome: Outcome
    text: str


TOKEN, EXCHANGE, EVIDENCE = "token (consent)", "Exchange role", "sign-in evidence"


def aadsts_code(text: str) -> str:
    """The number of the first ``AADSTSnnn`` in Entra's error text, or ""."""
    match = _AADSTS.search(text)
    return match.group(1) if match else ""


def directory_role(mode: Mode) -> str:
    return DIRECTORY_ROLES[mode]


def verdicts(reach: Reach, token: Seen, exchange: Seen | None, evidence: Seen | None) -> tuple[Verdict, ...]:
    """One verdict per check. ``exchange`` and ``evidence`` are None when not tried
    (they are not, without a token)."""
    first = _token(reach, token)
    if first.outcome is not Outcome.OK:
        skipped = "not tried without a token"
        return (
            first,
            Verdict(EXCHANGE, Outcome.SKIPPED, skipped),
            Verdict(EVIDENCE, Outcome.SKIPPED, skipped),
        )
    return (
        first,
        _exchange(reach, exchange) if exchange else Verdict(EXCHANGE, Outcome.SKIPPED, "not tried"),
        _evidence(reach, evidence) if evidence else Verdict(EVIDENCE, Outcome.SKIPPED, "not tried"),
    )


def exit_code(found: Iterable[Verdict]) -> int:
    """0 every grant is there, 1 one is missing (whatever else could not be told),
    2 none is known missing but something could not be checked."""
    outcomes = {v.outcome for v in found}
    if Outcome.MISSING in outcomes:
        return 1
    return 2 if outcomes - {Outcome.OK} else 0


def _consent(reach: Reach, *, again: bool = False) -> str:
    when = " again" if again else ""
    if not reach.consent_url:
        return f"consent to the app in the tenant{when} (tenant onboard prints the link)"
    return f"the customer's admin (Global or Privileged Role Administrator) consents{when} at {reach.consent_url}"


def _token(reach: Reach, seen: Seen) -> Verdict:
    tenant = reach.tenant_id
    if seen.ok:
        how = f"through the app {reach.app_id}" if reach.app_id else "from the managed identity"
        return Verdict(TOKEN, Outcome.OK, f"Entra issued a token for Exchange Online in {tenant} {how}")
    if not seen.answered:
        return Verdict(TOKEN, Outcome.UNKNOWN, f"could not get a token (no answer): {seen.text}")
    code = aadsts_code(seen.text)
    if not reach.app_id:
        outcome = Outcome.MISSING if code else Outcome.UNKNOWN
        return Verdict(TOKEN, outcome, f"the managed identity gave no token: {seen.text}")
    if code in NO_CONSENT_CODES:
        return Verdict(
            TOKEN,
            Outcome.MISSING,
            f"admin consent is missing in {tenant} (AADSTS{code}: the app has no service principal "
            f"there): {_consent(reach)}",
        )
    if code in FEDERATION_FIELDS:
        return Verdict(
            TOKEN,
            Outcome.MISSING,
            f"the app's federated identity credential (in the home tenant) does not match the managed "
            f"identity: its {FEDERATION_FIELDS[code]} is wrong (AADSTS{code}); every customer tenant fails "
            "the same way until it is fixed (docs/tenants.md, one-time setup, step 3)",
        )
    if code == "90002":
        return Verdict(
            TOKEN,
            Outcome.MISSING,
            f"Entra knows no tenant {tenant} in this cloud (AADSTS90002): check the GUID",
        )
    if code:
        return Verdict(TOKEN, Outcome.MISSING, f"Entra refused the token (AADSTS{code}): {seen.text}")
    return Verdict(TOKEN, Outcome.UNKNOWN, f"could not get a token: {seen.text}")


def _exchange(reach: Reach, seen: Seen) -> Verdict:
    tenant, role = reach.tenant_id, directory_role(reach.mode)
    if seen.ok:
        text = f"Get-TransportConfig answered: {reach.reader} can read Exchange Online in {tenant}"
        if reach.mode is Mode.REMEDIATE:
            text += (
                f"; remediate mode also needs {role} (or a role group with Set-TransportConfig and "
                "Set-CASMailbox): a read cannot show that, the first fix says so if it is missing"
            )
        return Verdict(EXCHANGE, Outcome.OK, text)
    if seen.status not in (401, 403):
        return Verdict(EXCHANGE, Outcome.UNKNOWN, f"could not run Get-TransportConfig: {seen.text}")
    if reach.app_id:
        new_sp, add_member = exchange_role_group_commands(reach.app_id)
        fix = (
            f"assign {role} ({reach.mode} mode) to the app's service principal in {tenant} (Entra admin "
            f"center, Roles and administrators), or put it in a custom Exchange role group "
            f"(`{new_sp}`, then `{add_member}`)"
        )
        if seen.status == 401:
            fix += (
                f"; a 401 can also mean the consent did not include {EXCHANGE_APP_ROLE}: add it to the "
                f"app's API permissions, then {_consent(reach, again=True)}"
            )
    else:
        fix = (
            f"grant the managed identity the {EXCHANGE_APP_ROLE} app role and {role} ({reach.mode} mode) "
            f"in {tenant} (docs/permissions.md). {GRANT_DELAY}"
        )
    lacks = (
        "consent is there but Exchange Online refused it" if reach.app_id else "Exchange Online refused it"
    )
    return Verdict(
        EXCHANGE,
        Outcome.MISSING,
        f"{lacks} (HTTP {seen.status}): {fix}. Exchange said: {seen.text}",
    )


def _evidence(reach: Reach, seen: Seen) -> Verdict:
    tenant = reach.tenant_id
    if seen.ok:
        return Verdict(
            EVIDENCE,
            Outcome.OK,
            f"the sign-in logs of {tenant} are readable (Entra ID P1, {' and '.join(EVIDENCE_PERMISSIONS)})",
        )
    then = f"until then remediation follows WhenEvidenceUnavailable ({reach.when_evidence_unavailable}: " + (
        "mailboxes are left as they are)"
        if reach.when_evidence_unavailable is EvidencePolicy.HOLD
        else "it fixes without usage evidence)"
    )
    if seen.status == 403 and seen.code == NO_PREMIUM:
        return Verdict(
            EVIDENCE,
            Outcome.MISSING,
            f"evidence unavailable: {tenant} has no Entra ID P1 licence, which Graph needs for sign-in "
            f"logs ({NO_PREMIUM}); {then}",
        )
    if seen.status in (401, 403):
        permissions = " and ".join(EVIDENCE_PERMISSIONS)
        where = (
            f"add {permissions} (Microsoft Graph, application) to the app's API permissions, then "
            f"{_consent(reach, again=True)}"
            if reach.app_id
            else f"grant the managed identity {permissions} (Microsoft Graph, application). {GRANT_DELAY}"
        )
        return Verdict(
            EVIDENCE,
            Outcome.MISSING,
            f"evidence unavailable: Graph refused the sign-in logs (HTTP {seen.status} {seen.code}), "
            f"{reach.reader} lacks {permissions}: {where}; {then}",
        )
    return Verdict(EVIDENCE, Outcome.UNKNOWN, f"could not read the sign-in logs: {seen.text}")


def onboarding_steps(reach: Reach, *, home: bool) -> tuple[str, ...]:
    """What the admins do so ``reach`` works, one paragraph a step. ``home``: the
    tenant the managed identity lives in (no consent there)."""
    tenant, role, mode = reach.tenant_id, directory_role(reach.mode), reach.mode
    permissions = " and ".join(EVIDENCE_PERMISSIONS)
    evidence = (
        f"an Entra ID P1 licence in {tenant}; without them the evidence is unavailable and the row's "
        f"WhenEvidenceUnavailable ({reach.when_evidence_unavailable}) decides"
    )
    other = Mode.REMEDIATE if mode is Mode.REPORT else Mode.REPORT
    switch = f"({mode} mode; {other} mode needs {directory_role(other)})"
    if home or not reach.app_id:
        identity = (
            f"Tenant {tenant} is the home tenant: it is read with the managed identity itself, "
            "no consent and no app (docs/permissions.md)."
        )
        exchange = (
            f"1. Exchange: grant the managed identity the {EXCHANGE_APP_ROLE} app role and the "
            f"directory role {role} {switch}."
        )
        graph = f"2. Sign-in evidence: Microsoft Graph {permissions} (application) for the identity, and {evidence}."
        return identity, exchange, graph
    new_sp, add_member = exchange_role_group_commands(reach.app_id)
    consent = (
        "1. Consent: the customer's admin (Global Administrator or Privileged Role Administrator in "
        f"{tenant}) opens this link and accepts. It creates the app's service principal there and "
        f"grants {EXCHANGE_APP_ROLE} and Microsoft Graph {permissions}:\n   {reach.consent_url}"
    )
    role_step = (
        f"2. Directory role (consent cannot assign one): in {tenant}, assign {role} to the app's "
        f"service principal (Entra admin center, Roles and administrators; the app id is "
        f"{reach.app_id}) {switch}. Or, instead of a directory role, a custom Exchange role group: "
        f"`{new_sp}`, then `{add_member}`."
    )
    graph = (
        f"3. Sign-in evidence: Microsoft Graph {permissions} (application, granted by the consent "
        f"above) and {evidence}."
    )
    header = f"Onboarding customer tenant {tenant} ({mode} mode) through the app {reach.app_id}:"
    return header, consent, role_step, graph
