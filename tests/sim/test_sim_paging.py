"""Paging: Prefer page size, absolute nextLink, same body POSTed to it, both spellings."""

from __future__ import annotations

import pytest

from sim import SimServer
from tests.sim.exo_http import SEEDED, ExoClient, cmdlet_body, http

ALL = {"ResultSize": "Unlimited"}


def test_2500_mailboxes_in_three_pages_of_1000(fresh_sim: SimServer, exo: ExoClient) -> None:
    first = exo.invoke("Get-CASMailbox", ALL, select="Guid,PrimarySmtpAddress")
    link = first.json["@odata.nextLink"]

    assert first.status == 200
    assert len(first.json["value"]) == 1000
    assert link.startswith(f"{fresh_sim.url}/adminapi/beta/{exo.tenant.tenant_id}/InvokeCommand?")
    assert "$select=Guid,PrimarySmtpAddress" in link
    assert "$skiptoken=" in link

    pages = exo.pages("Get-CASMailbox", ALL, select="Guid,PrimarySmtpAddress")
    assert [len(p["value"]) for p in pages] == [1000, 1000, 500]
    assert "@odata.nextLink" not in pages[-1]
    guids = [obj["Guid"] for page in pages for obj in page["value"]]
    assert len(set(guids)) == SEEDED
    assert all(set(obj) == {"Guid", "PrimarySmtpAddress"} for page in pages for obj in page["value"])
    # Every page after the first came from a POST with the same body.
    posts = [r for r in fresh_sim.requests if r.cmdlet == "Get-CASMailbox"]
    assert [r.method for r in posts][-3:] == ["POST", "POST", "POST"]
    assert all(r.parameters == ALL for r in posts)


def test_get_on_next_link_is_405(exo: ExoClient) -> None:
    link = exo.invoke("Get-CASMailbox", ALL, select="Guid").json["@odata.nextLink"]
    reply = http("GET", link, headers=exo.headers())

    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    ("prefer", "sizes"),
    [
        ("odata.maxpagesize=1000", [1000, 1000, 500]),
        ("odata.maxpagesize=700", [700, 700, 700, 400]),
        ("odata.maxpagesize=5000", [1000, 1000, 500]),  # capped at 1000
        (None, [1000, 1000, 500]),  # no header: 1000 too
        ("odata.continue-on-error, odata.maxpagesize=1200", [1000, 1000, 500]),
    ],
)
def test_page_size_from_prefer(exo: ExoClient, prefer: str | None, sizes: list[int]) -> None:
    pages = exo.pages("Get-CASMailbox", ALL, select="Guid", headers=exo.headers(Prefer=prefer))
    assert [len(p["value"]) for p in pages] == sizes


def test_full_objects_page_too(exo: ExoClient) -> None:
    pages = exo.pages("Get-CASMailbox", {"ResultSize": 1500})
    assert [len(p["value"]) for p in pages] == [1000, 500]
    assert len(pages[1]["value"][0]) >= 60


def test_other_next_link_spelling(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.next_link_key = "odata.nextLink"
    first = exo.invoke("Get-CASMailbox", ALL, select="Guid").json

    assert "odata.nextLink" in first
    assert "@odata.nextLink" not in first
    assert [len(p["value"]) for p in exo.pages("Get-CASMailbox", ALL, select="Guid")] == [1000, 1000, 500]


def test_next_link_key_is_validated(fresh_sim: SimServer) -> None:
    with pytest.raises(ValueError, match="next_link_key"):
        fresh_sim.next_link_key = "nextLink"


@pytest.mark.parametrize("token", ["garbage!", "MTAwMA", ""])
def test_invalid_skiptoken_is_400(exo: ExoClient, token: str) -> None:
    reply = http(
        "POST",
        f"{exo.url}?$skiptoken={token}",
        body=cmdlet_body("Get-CASMailbox", ALL),
        headers=exo.headers(),
    )

    assert reply.status == 400
    assert "$skiptoken" in reply.useful_message
