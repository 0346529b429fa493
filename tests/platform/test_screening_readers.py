"""Readers of the list formats: the real samples (../shared/data/sanctions), the quirks
of files as found (encodings, `-0-`, missing and extra fields, quoting), and malformed
files refused with the line named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corridor.platform.domain.screening.entries import EntityKind
from corridor.platform.domain.screening.evaluation import sample_lists
from corridor.platform.domain.screening.readers import (
    ListFormatError,
    decode,
    ofac_dates,
    read_csl,
    read_ftm,
    read_ofac,
)


@pytest.fixture(scope="module")
def samples() -> Path:
    try:
        return sample_lists()
    except FileNotFoundError:
        pytest.skip("the sample lists (shared/data/sanctions) are not on this machine")


def test_ofac_sample_with_aliases_addresses_and_remarks(samples: Path) -> None:
    d = samples / "ofac"
    entries = {e.source_id: e for e in read_ofac((d / "sdn.csv").read_bytes(),
                                                 (d / "alt.csv").read_bytes(),
                                                 (d / "add.csv").read_bytes())}
    assert len(entries) == 17
    k = entries["48603"]
    assert k.kind is EntityKind.PERSON and k.name == "KHOROSHEV, Dmitry Yuryevich"
    assert "KHOROSHEV, Dmitrii Yuryevich" in k.aliases  # alt.csv
    assert "Dmitry Yuryevich KHOROSHEV" in k.aliases  # given name first
    assert k.dates_of_birth == ("1993-04-17",) and "ru" in k.countries
    hesa = entries["11195"]
    assert hesa.kind is EntityKind.ORG and "HESA" in hesa.aliases  # a.k.a. in the remarks
    assert hesa.programmes == ("NPWMD", "IFSR", "IRAN-CON-ARMS-EO")
    assert hesa.countries == ("ir",)  # add.csv
    assert entries["40716"].kind is EntityKind.VESSEL


def test_csl_sample(samples: Path) -> None:
    entries = read_csl((samples / "csl" / "consolidated.csv").read_bytes())
    assert len(entries) == 13
    rim = next(e for e in entries if e.name == "RIM, Ryong Nam")
    assert rim.kind is EntityKind.PERSON and rim.dates_of_birth == ("1978-12-05",)
    assert set(rim.countries) == {"kp", "cn"} and rim.programmes == ("NPWMD",)
    sme = next(e for e in entries if e.name == "SME BANK")
    assert "JSC SME BANK" in sme.aliases and sme.kind is EntityKind.ORG


def test_ftm_samples_keep_screenable_targets(samples: Path) -> None:
    entries = read_ftm((samples / "ftm" / "zala.entities.ftm.json").read_bytes())
    assert {e.kind for e in entries} <= {EntityKind.PERSON, EntityKind.ORG}
    assert len(entries) == 14  # the targets; sanctions, addresses, ownerships describe them
    osetrova = next(e for e in entries if e.name == "OSETROVA, Maria Aleksandrovna")
    assert "Мария Александровна Осетрова" in osetrova.aliases
    assert osetrova.dates_of_birth == ("1988-01-07",) and osetrova.countries == ("ru",)


SDN = (b'10278,"LOGAN MOREY, Elvis Angus","individual","SDNT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- '
       b',-0- ,"DOB 28 Jul 1963; nationality Belize; a.k.a. \'BURTON BURGESS\'."\r\n')


def test_ofac_tolerates_missing_and_extra_fields_cp1252_and_eof_byte() -> None:
    short = b'1,"M\xdcLLER, J\xfcrgen","individual"\r\n'  # Windows-1252, 3 of 12 fields
    extra = SDN.rstrip(b"\r\n") + b',"an extra column"\r\n'
    entries = read_ofac(short + extra + b"\x1a")
    assert [e.name for e in entries] == ["MÜLLER, Jürgen", "LOGAN MOREY, Elvis Angus"]
    assert entries[1].dates_of_birth == ("1963-07-28",) and entries[1].countries == ("bz",)
    assert "BURTON BURGESS" in entries[1].aliases
    assert read_ofac(SDN, alt=b"", add=b"")[0].source_id == "10278"


def test_ofac_dates_of_every_precision() -> None:
    assert ofac_dates("DOB 28 Jul 1963; POB x") == ["1963-07-28"]
    assert ofac_dates("DOB circa 1958") == ["1958"]
    assert ofac_dates("DOB Aug 1960") == ["1960-08"]
    assert ofac_dates("DOB 1960 to 1962") == ["1960", "1962"]
    assert ofac_dates("no date here") == []


@pytest.mark.parametrize(("sdn", "alt", "line", "problem"), [
    (SDN + b'x12,"NAME","individual"\r\n', None, 2, "not a number"),
    (SDN + b'12,-0- ,"individual"\r\n', None, 2, "without a name"),
    (SDN + b'12,"unterminated\r\n', None, None, "not valid CSV"),
    (SDN, b'10278,1,"aka"\r\n', 1, "expected ent_num"),
])
def test_ofac_malformed_is_refused_with_its_line(sdn: bytes, alt: bytes | None,
                                                  line: int | None, problem: str) -> None:
    with pytest.raises(ListFormatError) as err:
        read_ofac(sdn, alt)
    assert problem in str(err.value)
    if line is not None:
        assert err.value.line == line and f"line {line}" in str(err.value)


CSL_HEADER = b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs,extra\n"


def test_csl_finds_columns_by_name_and_tolerates_quoting_and_bom() -> None:
    body = (b'"a1","BIS","ACME, ""THE"" TRADING","Entity","Acme Trade; ACME",,RU,"X; Y",z\n'
            b'"a2","BIS","Ivan Petrov","Individual",,"12 Mar 1970","",,\n'
            b'"a3","BIS","Short row"\n')
    entries = read_csl(b"\xef\xbb\xbf" + CSL_HEADER + body)
    assert [e.name for e in entries] == ['ACME, "THE" TRADING', "Ivan Petrov", "Short row"]
    assert entries[0].aliases == ("Acme Trade", "ACME") and entries[0].countries == ("ru",)
    assert entries[0].programmes == ("X", "Y")
    assert entries[1].dates_of_birth == ("1970-03-12",)


def test_csl_malformed() -> None:
    with pytest.raises(ListFormatError, match="no name column"):
        read_csl(b"_id,title\n1,x\n")
    with pytest.raises(ListFormatError, match="line 3: a row without a name"):
        read_csl(CSL_HEADER + b'"a1","s","A"\n"a2","s",""\n')
    with pytest.raises(ListFormatError, match="empty file"):
        read_csl(b"")


def _ftm(**obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def test_ftm_keeps_people_and_companies_and_skips_the_rest() -> None:
    data = (_ftm(id="p1", schema="Person", properties={
                "name": ["Ivan Petrov"], "alias": ["Иван Петров"], "birthDate": ["1970-03-12"],
                "nationality": ["ru"]}, target=True)
            + b"\n"  # a blank line
            + _ftm(id="a1", schema="Address", properties={"full": ["Moscow"]})
            + _ftm(id="p2", schema="Person", properties={"name": ["Not A Target"]},
                   target=False)
            + _ftm(id="c1", schema="Company", properties={"name": ["Acme LLC"],
                                                          "jurisdiction": ["cy"]},
                   extra_field={"ignored": True}))
    entries = read_ftm(data)
    assert [(e.source_id, e.kind) for e in entries] == [("p1", EntityKind.PERSON),
                                                          ("c1", EntityKind.ORG)]
    assert entries[0].aliases == ("Иван Петров",) and entries[0].countries == ("ru",)
    assert entries[1].countries == ("cy",)


@pytest.mark.parametrize(("data", "problem"), [
    (_ftm(id="p1", schema="Person", properties={"name": ["A"]}) + b"{not json\n",
     "line 2: not JSON"),
    (b"[1, 2]\n", "line 1: not an entity object"),
    (_ftm(schema="Person", properties={"name": ["A"]}), "line 1: an entity without id"),
])
def test_ftm_malformed_is_refused_with_its_line(data: bytes, problem: str) -> None:
    with pytest.raises(ListFormatError, match=problem):
        read_ftm(data)


def test_decode_falls_back_from_utf8() -> None:
    assert decode("Müller".encode()) == "Müller"
    assert decode("Müller".encode("cp1252")) == "Müller"
    assert decode(b"\xef\xbb\xbfA\x00B") == "AB"


def test_csl_names_lose_the_successor_clause_and_offer_their_short_form() -> None:
    body = (b'"s1","ISN","Sinobright Import and Export Company; and any successor, sub-unit, '
            b'or subsidiary thereof","",,,,\n'
            b'"s2","MEU","Academy of Aerospace Solid Propulsion Technology (AASPT)","",,,,\n')
    first, second = read_csl(CSL_HEADER + body)
    assert first.names == ("Sinobright Import and Export Company",)
    assert second.names == ("Academy of Aerospace Solid Propulsion Technology (AASPT)",
                            "Academy of Aerospace Solid Propulsion Technology", "AASPT")
