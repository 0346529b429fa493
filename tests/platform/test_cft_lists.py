"""Terrorist-financing lists are screened like sanctions lists and say so (issue 16): a hit on
an entry an FtM file tags `crime.terror`, on an OFAC SDGT designation, or on any entry of a
list imported under a terrorist-financing name, holds the payment with an alert whose
typology is `terrorist_financing`; a plain sanctions hit stays `sanctions`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.compliance import Alert
from corridor.platform.domain.screening import readers
from corridor.platform.domain.screening.entries import (
    EntityKind,
    ListFormat,
    is_terrorist,
    make_entry,
)
from corridor.platform.services import screening
from corridor.platform.services.screening import ListFiles
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen


def ftm(ident: str, name: str, topics: list[str]) -> str:
    return json.dumps({"id": ident, "schema": "Person", "caption": name, "target": True,
                       "properties": {"name": [name], "topics": topics}})


FTM = "\n".join([ftm("tf-1", "Abu Bakr Qardash", ["crime.terror", "sanction"]),
                 ftm("s-1", "Viktor Oligarkhov", ["sanction"])]).encode()
CSL = (b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
       b'"c1","OFAC","HADDAD, Yusuf Kamal","Individual","",1970-01-01,LB,"SDGT"\n'
       b'"c2","OFAC","PETROV, Anatoly","Individual","",1960-01-01,RU,"RUSSIA-EO14024"\n')


def test_which_entries_are_terrorist_designations() -> None:
    entries = {e.source_id: e for e in readers.read_ftm(FTM)}
    assert is_terrorist(entries["tf-1"]) and not is_terrorist(entries["s-1"])
    plain = make_entry(list_name="opensanctions", source_id="x", kind=EntityKind.PERSON,
                       names=["A B"], programmes=["IFSR", "SDGT"])
    assert is_terrorist(plain)
    assert not is_terrorist(make_entry(list_name="ofac-sdn", source_id="y",
                                       kind=EntityKind.PERSON, names=["A B"],
                                       programmes=["IRAN"]))
    for named in ("un-terrorists", "tf-list", "ofac-sdgt"):  # the list's name says so
        assert is_terrorist(make_entry(list_name=named, source_id="z",
                                       kind=EntityKind.PERSON, names=["A B"]))
    assert not is_terrorist(make_entry(list_name="uk-sanctions", source_id="z",
                                       kind=EntityKind.PERSON, names=["A B"]))


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    chain = FakeChain()
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    p.chain_fake = chain  # type: ignore[attr-defined]
    screening.import_list(p.deps, None, ListFiles(file_name="entities.ftm.json", main=FTM),
                          ListFormat.FTM)
    screening.import_list(p.deps, None, ListFiles(file_name="consolidated.csv", main=CSL),
                          ListFormat.CSL)
    screening.import_list(p.deps, None, ListFiles(file_name="consolidated.csv", main=(
        b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
        b'"u1","UN","OMAR, Said Hassan","Individual","",1975-01-01,SO,""\n')),
        ListFormat.CSL, "un-1267-terrorists")
    yield p
    p.close()


@pytest.fixture
def payer(platform: bootstrap.Platform) -> Iterator[tuple[TestClient, Actor]]:
    alice = make_user(platform, email="payer@example.com", name="Paula Payer")
    kyc(platform, alice.user.id, 2)
    wallet = open_wallet(platform, alice.user.id)
    platform.chain_fake.fund(wallet.address, "USD", 100_000)  # type: ignore[attr-defined]
    with TestClient(create_app(platform)) as client:
        yield client, alice


def pay_to(platform: bootstrap.Platform, payer: tuple[TestClient, Actor],
           name: str, email: str) -> dict[str, Any]:
    client, who = payer
    user = make_user(platform, email=email, name=name)
    kyc(platform, user.user.id, 2)
    open_wallet(platform, user.user.id)
    r = client.post("/v1/payments", headers=who.creating,
                    json={"recipient": {"type": "user", "email": email}, "asset": "USD",
                          "amount": "50.00"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def typologies_of(platform: bootstrap.Platform, payment_id: str) -> set[str]:
    with platform.deps.uow() as uow:
        return {a.typology for a in uow.repo(Alert).many(source_id=payment_id)}


@pytest.mark.parametrize(("name", "typology"), [
    ("Abu Bakr Qardash", "terrorist_financing"),  # FtM crime.terror
    ("Yusuf Kamal Haddad", "terrorist_financing"),  # OFAC SDGT (CSL)
    ("Said Hassan Omar", "terrorist_financing"),  # a list named as a TF list
    ("Viktor Oligarkhov", "sanctions"),
    ("Anatoly Petrov", "sanctions"),
])
def test_a_payment_to_a_listed_name_is_held_under_the_lists_typology(
        platform: bootstrap.Platform, payer: tuple[TestClient, Actor], name: str,
        typology: str) -> None:
    p = pay_to(platform, payer, name, "listed@example.com")
    assert p["status"] == "on_hold", p
    assert typology in typologies_of(platform, p["id"])
    other = {"terrorist_financing": "sanctions", "sanctions": "terrorist_financing"}[typology]
    assert other not in typologies_of(platform, p["id"])
