"""Sanctions lists stored as versioned snapshots (services/screening), on SQLite and
PostgreSQL: an import records its counts, the same content again is a no-op, a new
version records what was added, removed and changed, screening sees the current entries
only, and only compliance staff (or the operator's shell) may import or screen."""

from __future__ import annotations

import pytest

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.screening.entries import EntityKind, ListFormat
from corridor.platform.domain.screening.store import ListSnapshot, StoredEntry
from corridor.platform.services import screening
from corridor.platform.services.screening import ListFiles

HEADER = b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
ROWS = {
    "a1": b'"a1","BIS","Inter Tobacco LLC","Entity","Inter Tobako",,BY,"BELARUS"\n',
    "a2": b'"a2","OFAC","KHOROSHEV, Dmitry Yuryevich","Individual","LOCKBITSUPP",1993-04-17,'
          b'RU,"CYBER2"\n',
    "a3": b'"a3","OFAC","Maria Aleksandrovna OSETROVA","Individual",'
          b'"\xd0\x9c\xd0\xb0\xd1\x80\xd0\xb8\xd1\x8f \xd0\x9e\xd1\x81\xd0\xb5\xd1\x82\xd1\x80'
          b'\xd0\xbe\xd0\xb2\xd0\xb0",1988-01-07,RU,\n',
}


def csl(*rows: bytes) -> ListFiles:
    return ListFiles(file_name="consolidated.csv", main=HEADER + b"".join(rows))


def staff(role: StaffRole) -> Principal:
    return Principal(user_id="u-" + role, kind=UserKind.STAFF, staff_role=role,
                     session_id="s")


def test_import_versions_and_counts(platform: bootstrap.Platform) -> None:
    deps = platform.deps
    first = screening.import_list(deps, None, csl(ROWS["a1"], ROWS["a2"]), ListFormat.CSL)
    assert first.new and first.snapshot.version == 1 and first.snapshot.list_name == "us-csl"
    assert (first.snapshot.entry_count, first.snapshot.added) == (2, 2)

    # the same content (another order) again: nothing written
    again = screening.import_list(deps, None, csl(ROWS["a2"], ROWS["a1"]), ListFormat.CSL)
    assert not again.new and again.snapshot.id == first.snapshot.id
    assert len(screening.snapshots(deps, None)) == 1

    changed_a2 = ROWS["a2"].replace(b"1993-04-17", b"1993-04-18")
    second = screening.import_list(deps, None, csl(changed_a2, ROWS["a3"]), ListFormat.CSL)
    s = second.snapshot
    assert second.new and s.version == 2
    assert (s.entry_count, s.added, s.removed, s.changed) == (2, 1, 1, 1)
    assert [e.source_id for e in second.delta.added] == ["a3"]
    assert second.delta.removed == ("a1",)

    current = screening.current_entries(deps, None)
    assert [e.source_id for e in current] == ["a2", "a3"]
    assert current[0].dates_of_birth == ("1993-04-18",)
    with deps.reader() as uow:
        rows = uow.repo(StoredEntry).many(list_name="us-csl")
        audits = uow.repo(AuditEntry).many(action="screening.list_import")
    # history kept: a1 and the old a2 ended at version 2
    assert sorted((r.source_id, r.since_version, r.until_version) for r in rows) == [
        ("a1", 1, 2), ("a2", 1, 2), ("a2", 2, None), ("a3", 2, None)]
    assert [a.after["version"] for a in audits if a.after] == [1, 2]

    # another list beside it, under its own name
    other = screening.import_list(deps, None, csl(ROWS["a1"]), ListFormat.CSL, "uk-hmt")
    assert other.snapshot.version == 1
    assert {s.list_name for s in screening.current_snapshots(deps, None)} == {"us-csl",
                                                                               "uk-hmt"}


def test_screening_sees_current_entries_and_follows_imports(
        platform: bootstrap.Platform) -> None:
    deps = platform.deps
    screener = screening.Screener(deps)
    screening.import_list(deps, None, csl(ROWS["a1"], ROWS["a2"]), ListFormat.CSL)
    hits = screener.screen(None, "Dmitri Khoroshev", dob="1993-04-17", country="RU",
                           kind=EntityKind.PERSON)
    assert [h.entry.source_id for h in hits] == ["a2"]
    assert "date of birth 1993-04-17 listed" in hits[0].explain()
    assert screener.screen(None, "Мария Осетрова") == []

    screening.import_list(deps, None, csl(ROWS["a2"], ROWS["a3"]), ListFormat.CSL)
    assert [h.entry.source_id for h in screener.screen(None, "Мария Осетрова")] == ["a3"]
    assert screener.screen(None, "Inter Tobacco Ltd") == []  # a1 left the list


def test_a_malformed_file_changes_nothing(platform: bootstrap.Platform) -> None:
    deps = platform.deps
    screening.import_list(deps, None, csl(ROWS["a1"]), ListFormat.CSL)
    bad = ListFiles(file_name="entities.ftm.json", main=b'{"id": "x", "schema": "Person"}\n{')
    with pytest.raises(PlatformError) as err:
        screening.import_list(deps, None, bad, ListFormat.FTM)
    assert err.value.code == "LIST_FILE_INVALID" and "line 2" in err.value.message
    with pytest.raises(PlatformError) as err:
        screening.import_list(deps, None, csl(ROWS["a1"]), ListFormat.CSL, "x" * 65)
    assert err.value.code == "INVALID_FIELDS"
    with deps.reader() as uow:
        assert uow.repo(ListSnapshot).count() == 1


def test_only_compliance_staff_import_and_screen(platform: bootstrap.Platform) -> None:
    deps = platform.deps
    for role in (StaffRole.SUPPORT_AGENT, StaffRole.OPERATOR):
        with pytest.raises(PlatformError) as err:
            screening.import_list(deps, staff(role), csl(ROWS["a1"]), ListFormat.CSL)
        assert err.value.code == "FORBIDDEN"
        with pytest.raises(PlatformError):
            screening.Screener(deps).screen(staff(role), "Inter Tobacco")
    officer = staff(StaffRole.COMPLIANCE_OFFICER)
    assert screening.import_list(deps, officer, csl(ROWS["a1"]), ListFormat.CSL).new
    assert screening.Screener(deps).screen(officer, "Inter Tobacco")
