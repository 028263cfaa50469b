"""The permission step (infra/scripts/grant_permissions.py) against the simulator's
Graph directory: it grants exactly the app roles that are missing, a second run
changes nothing, --dry-run changes nothing, tenant-wide Mail.Send only when asked
(with its warning), the federated credential for customer tenants once, and a caller
without the right gets one clear line and no half-made change."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from sim.graph_objects import EXCHANGE_APP_ID, GRAPH_APP_ID, KNOWN_ROLES

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "scripts" / "grant_permissions.py"
pytestmark = pytest.mark.usefixtures("app_env")


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grant_permissions", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


grant = load()


CLIENT_ID = "3b9e2a4c-1d5f-4e6a-8b7c-9d0e1f2a3b4c"  # the identity's client id


@pytest.fixture
def identity(sim) -> str:
    """The identity's principal (object) id, as the sim's Entra knows it."""
    principal = sim.identity_principal_id(CLIENT_ID)
    if principal not in sim.graph_objects.service_principals:
        sim.graph_objects.add_service_principal(CLIENT_ID, "id-smtpauth", object_id=principal)
    for assignment in sim.graph_objects.assignments_of(principal):
        sim.graph_objects.assignments.remove(assignment)
    yield principal
    sim.graph_objects.writable = True


def granted(sim, principal: str) -> set[str]:
    names = {rid: value for _, roles in KNOWN_ROLES.values() for value, rid in roles.items()}
    return {names[a["appRoleId"]] for a in sim.graph_objects.assignments_of(principal)}


def run(sim, capsys, *args: str) -> tuple[int, str, str]:
    code = grant.main(["--graph-url", sim.url, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_dry_run_lists_the_missing_roles_and_changes_nothing(sim, identity, capsys):
    code, out, _ = run(sim, capsys, "--principal-id", identity, "--dry-run")
    assert code == 0
    assert out.count("would grant:") == 3 and "Exchange.ManageAsApp on Office 365 Exchange Online" in out
    assert "3 change(s) to make" in out
    assert granted(sim, identity) == set()


def test_grants_what_is_missing_once(sim, identity, capsys):
    exo = sim.graph_objects.by_app_id(EXCHANGE_APP_ID)[0]
    sim.graph_objects.assign(identity, exo["id"], KNOWN_ROLES[EXCHANGE_APP_ID][1]["Exchange.ManageAsApp"])

    code, out, _ = run(sim, capsys, "--principal-id", identity)
    assert code == 0
    assert "already granted: Exchange.ManageAsApp" in out and out.count("granted: ") == 3
    assert granted(sim, identity) == {"Exchange.ManageAsApp", "AuditLog.Read.All", "Directory.Read.All"}

    code, out, _ = run(sim, capsys, "--principal-id", identity)
    assert code == 0 and "0 change(s) made" in out and out.count("already granted:") == 3
    assert len(sim.graph_objects.assignments_of(identity)) == 3


def test_tenant_wide_mail_send_only_when_asked_and_with_the_warning(sim, identity, capsys):
    run(sim, capsys, "--principal-id", identity)
    assert "Mail.Send" not in granted(sim, identity)
    code, out, _ = run(sim, capsys, "--principal-id", identity, "--mail-send-tenant-wide")
    assert code == 0 and "Mail.Send" in granted(sim, identity)
    assert "every mailbox in the tenant" in out


def test_the_federated_credential_is_the_one_entra_accepts_and_is_added_once(sim, identity, capsys):
    app_id, home = str(uuid.uuid4()), str(uuid.uuid4())
    # What the sim's Entra token endpoint accepts: the credential docs/tenants.md describes.
    app = sim.register_app(app_id, home_tenant=home, trusts_client_id=CLIENT_ID)
    (accepted,) = app.credentials
    app.credentials.clear()
    args = ("--principal-id", identity, "--tenant-id", home, "--multitenant-app-id", app_id)

    code, out, _ = run(sim, capsys, *args)
    assert code == 0 and "added: federated credential" in out
    (added,) = app.credentials
    assert (added.issuer, added.subject, added.audiences) == (
        accepted.issuer,
        accepted.subject,
        accepted.audiences,
    )

    code, out, _ = run(sim, capsys, *args)
    assert "already present: federated credential" in out and len(app.credentials) == 1


def test_a_caller_without_the_right_gets_one_line_and_nothing_half_done(sim, identity, capsys):
    sim.graph_objects.writable = False
    code, out, err = run(sim, capsys, "--principal-id", identity)
    assert code == 1
    assert err.startswith("error: Graph POST") and "Privileged Role Administrator" in err
    assert "Bearer" not in err + out
    assert granted(sim, identity) == set()


def test_a_bad_principal_id_is_refused_before_anything_is_sent(sim, capsys):
    with pytest.raises(SystemExit) as exit_:
        grant.main(["--graph-url", sim.url, "--principal-id", "not-a-guid"])
    assert exit_.value.code == 2 and "--principal-id must be a GUID" in capsys.readouterr().err
    assert not [r for r in sim.requests if "servicePrincipals" in r.path]


def test_graph_resources_are_looked_up_by_app_id():
    assert {r.resource_app_id for r in grant.ROLES} == {EXCHANGE_APP_ID, GRAPH_APP_ID}
