"""The tenant model: deterministic seeding, lookups, overrides, scale."""

from __future__ import annotations

import pytest

from sim import SimTenant

TENANT = "0c9f7d6e-5b4a-4c3d-8e2f-1a0b9c8d7e6f"


def test_seed_is_deterministic_and_numbered() -> None:
    a = SimTenant(TENANT, "Fabrikam.onmicrosoft.com")
    b = SimTenant(TENANT, "fabrikam.onmicrosoft.com")
    a.seed(50, overrides={7: False, 8: True}, seed=3)
    b.seed(50, overrides={7: False, 8: True}, seed=3)

    assert [m.guid for m in a.mailboxes()] == [m.guid for m in b.mailboxes()]
    assert a.mailbox_at(42).primary_smtp_address == "user00042@fabrikam.onmicrosoft.com"
    assert a.mailbox_at(42).display_name == "User 00042"
    assert a.mailbox_at(7).smtp_auth_disabled is False
    assert a.mailbox_at(8).smtp_auth_disabled is True
    assert a.count_by_setting() == {None: 48, False: 1, True: 1}
    assert a.overrides() == {
        "user00007@fabrikam.onmicrosoft.com": False,
        "user00008@fabrikam.onmicrosoft.com": True,
    }
    other = SimTenant(TENANT, "fabrikam.onmicrosoft.com")
    other.seed(50, seed=4)
    assert other.mailbox_at(0).guid != a.mailbox_at(0).guid


def test_guids_are_uuid4() -> None:
    tenant = SimTenant(TENANT, "fabrikam.onmicrosoft.com")
    tenant.seed(200)
    for mbx in tenant.mailboxes():
        assert mbx.guid[14] == "4"
        assert mbx.guid[19] in "89ab"
        assert mbx.external_directory_object_id != mbx.guid


def test_add_mailbox_and_lookups() -> None:
    tenant = SimTenant(TENANT, "fabrikam.onmicrosoft.com")
    tenant.seed(10)
    printer = tenant.add_mailbox(
        "Printer@Fabrikam.com",
        display_name="Printer, floor 2",
        smtp_auth_disabled=False,
        guid="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        aliases=["scan@fabrikam.com"],
    )

    assert printer.name == "Printer"
    assert printer.smtp_auth_disabled is False
    for identity in (
        "printer@fabrikam.com",
        "SMTP:PRINTER@FABRIKAM.COM",
        "scan@fabrikam.com",
        "printer@fabrikam.mail.onmicrosoft.com",
        "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE",
        printer.external_directory_object_id,
    ):
        assert tenant.mailbox(identity) == printer, identity
    assert tenant.mailbox("user00003@fabrikam.mail.onmicrosoft.com") == tenant.mailbox_at(3)
    assert tenant.mailbox("nobody@fabrikam.com") is None
    with pytest.raises(ValueError, match="already exists"):
        tenant.add_mailbox("printer@fabrikam.com")
    with pytest.raises(ValueError, match="already exists"):
        tenant.seed(5)  # user00000.. again


def test_set_override() -> None:
    tenant = SimTenant(TENANT, "fabrikam.onmicrosoft.com")
    tenant.seed(5)

    changed = tenant.set_override("user00002@fabrikam.onmicrosoft.com", False)
    assert changed.smtp_auth_disabled is False
    assert changed.when_changed is not None
    assert tenant.set_override(changed.guid, None).smtp_auth_disabled is None
    with pytest.raises(KeyError):
        tenant.set_override("ghost@fabrikam.onmicrosoft.com", True)


def test_one_hundred_thousand_mailboxes() -> None:
    tenant = SimTenant(TENANT, "contoso.onmicrosoft.com")
    tenant.seed(100_000, overrides={n: False for n in range(0, 100_000, 20_000)})

    assert len(tenant) == 100_000
    assert tenant.count_by_setting() == {None: 99_995, False: 5}
    last = tenant.mailbox_at(99_999)
    assert last.primary_smtp_address == "user99999@contoso.onmicrosoft.com"
    assert tenant.mailbox(last.guid) == last
    assert tenant.mailbox(last.external_directory_object_id) == last
