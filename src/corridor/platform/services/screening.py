"""Sanctions screening (issue 16, first part): importing lists as versioned snapshots,
reading the current entries, and screening a name against them.

The API for what comes next (screening points in the payment path, alerts, cases): a
`Screener` lives as long as its process and keeps one `ScreeningIndex` of the current
entries of every list, rebuilt when an import made a new version; `Screener.screen`
returns `Hit`s, each with its score and explanation. `import_list` returns the new
snapshot with its added/removed/changed entries, so a delta can be re-screened.

`who` is the staff member acting (a compliance officer: Perm.KYC_REVIEW until compliance
has its own permissions), or None for the operator's own shell (the CLI), as for
`staff.create_staff`."""

from __future__ import annotations

import dataclasses
import gc
import threading

from corridor.platform.domain.errors import Err, forbidden
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.screening import readers
from corridor.platform.domain.screening.entries import EntityKind, ListEntry, ListFormat
from corridor.platform.domain.screening.index import ScreeningIndex
from corridor.platform.domain.screening.matcher import THRESHOLD, Hit, Query
from corridor.platform.domain.screening.store import (
    LIST_NAME_LEN_MAX,
    ListDiff,
    ListSnapshot,
    StoredEntry,
    content_hash,
    diff,
    merge_duplicates,
)
from corridor.platform.services.ports import Deps, UnitOfWork

DEFAULT_LIST_NAMES = {ListFormat.OFAC: "ofac-sdn", ListFormat.CSL: "us-csl",
                      ListFormat.FTM: "opensanctions"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListFiles:
    """The bytes of one list: the main file and, for OFAC, alt.csv and add.csv."""

    file_name: str
    main: bytes
    alt: bytes | None = None
    add: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImportOutcome:
    """The list's snapshot after the import; `new` False when the content was already the
    current version (nothing written); `delta`: the entries that differ."""

    snapshot: ListSnapshot
    new: bool
    delta: ListDiff


def _check(who: Principal | None) -> None:
    if who is not None and not who.staff_can(Perm.KYC_REVIEW):
        raise forbidden()


def parse(files: ListFiles, fmt: ListFormat, list_name: str) -> list[ListEntry]:
    """The entries of a list file, or LIST_FILE_INVALID naming the line."""
    try:
        if fmt is ListFormat.OFAC:
            entries = readers.read_ofac(files.main, files.alt, files.add, list_name=list_name)
        elif fmt is ListFormat.CSL:
            entries = readers.read_csl(files.main, list_name=list_name)
        else:
            entries = readers.read_ftm(files.main, list_name=list_name)
    except readers.ListFormatError as exc:
        raise Err.LIST_FILE_INVALID.error(f"{files.file_name}: {exc}",
                                          {"file": str(exc)}) from None
    if not entries:
        raise Err.LIST_FILE_INVALID.error(f"{files.file_name}: no entries to screen against",
                                          {"file": "no entries"})
    return merge_duplicates(entries)


def import_list(deps: Deps, who: Principal | None, files: ListFiles, fmt: ListFormat,
                list_name: str | None = None) -> ImportOutcome:
    """Imports a list file as the list's next version; the same content again is a no-op
    (the current snapshot is returned with `new` False)."""
    _check(who)
    name = (list_name or DEFAULT_LIST_NAMES[fmt]).strip()
    if not name or len(name) > LIST_NAME_LEN_MAX or not name.isprintable():
        raise Err.INVALID_FIELDS.error(fields={"list": f"1-{LIST_NAME_LEN_MAX} characters"})
    entries = parse(files, fmt, name)
    digest = content_hash(entries)

    def work(uow: UnitOfWork) -> ImportOutcome:
        snaps = uow.repo(ListSnapshot).many(list_name=name, order_by="version",
                                            descending=True, limit=1)
        last = snaps[0] if snaps else None
        rows = uow.repo(StoredEntry).many(list_name=name, until_version=None)
        delta = diff({r.source_id: r.fingerprint for r in rows}, entries)
        if last is not None and last.content_hash == digest:
            return ImportOutcome(snapshot=last, new=False,
                                 delta=ListDiff(added=(), removed=(), changed=()))
        version = 1 if last is None else last.version + 1
        _apply(deps, uow, name, version, rows, delta)
        snap = ListSnapshot(id=deps.rand.new_id(), list_name=name, version=version,
                            list_format=str(fmt), content_hash=digest,
                            file_name=files.file_name[-255:], entry_count=len(entries),
                            added=len(delta.added), removed=len(delta.removed),
                            changed=len(delta.changed), imported_ms=deps.clock.now_ms())
        uow.repo(ListSnapshot).add(snap)
        uow.audit(actor_id=who.user_id if who else None,
                  actor_kind="staff" if who else "system", action="screening.list_import",
                  object_type="list_snapshot", object_id=snap.id,
                  after={"list": name, "version": version, "entries": len(entries),
                         "added": snap.added, "removed": snap.removed,
                         "changed": snap.changed, "content_hash": digest},
                  ip=who.ip if who else "")
        return ImportOutcome(snapshot=snap, new=True, delta=delta)

    return deps.write(work)


def _apply(deps: Deps, uow: UnitOfWork, name: str, version: int, rows: list[StoredEntry],
           delta: ListDiff) -> None:
    repo = uow.repo(StoredEntry)
    ending = set(delta.removed) | {e.source_id for e in delta.changed}
    for row in rows:
        if row.source_id in ending:
            repo.update(dataclasses.replace(row, until_version=version))
    for e in (*delta.added, *delta.changed):
        repo.add(StoredEntry(id=deps.rand.new_id(), list_name=name, source_id=e.source_id,
                             kind=str(e.kind), data=e.to_json(), fingerprint=e.fingerprint(),
                             since_version=version, until_version=None))


def snapshots(deps: Deps, who: Principal | None, list_name: str | None = None
              ) -> list[ListSnapshot]:
    """Every imported version, by list then version."""
    _check(who)
    with deps.reader() as uow:
        found = (uow.repo(ListSnapshot).many(list_name=list_name) if list_name
                 else uow.repo(ListSnapshot).many())
    return sorted(found, key=lambda s: (s.list_name, s.version))


def current_snapshots(deps: Deps, who: Principal | None) -> list[ListSnapshot]:
    """The latest version of each list."""
    latest: dict[str, ListSnapshot] = {}
    for s in snapshots(deps, who):
        latest[s.list_name] = s
    return list(latest.values())


def current_entries(deps: Deps, who: Principal | None, list_name: str | None = None
                    ) -> list[ListEntry]:
    """The entries of the current version of each list (or of one)."""
    _check(who)
    with deps.reader() as uow:
        repo = uow.repo(StoredEntry)
        rows = (repo.many(list_name=list_name, until_version=None) if list_name
                else repo.many(until_version=None))
    return [r.entry() for r in sorted(rows, key=lambda r: (r.list_name, r.source_id))]


class Screener:
    """Screens names against the current entries of every list through an index it keeps
    while the lists do not change (one per process; thread-safe)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._lock = threading.Lock()
        self._key: tuple[str, ...] | None = None
        self._index: ScreeningIndex | None = None

    def index(self) -> ScreeningIndex:
        """The index of the current entries (rebuilt after an import)."""
        key = tuple(sorted(s.id for s in current_snapshots(self.deps, None)))
        with self._lock:
            if self._index is None or key != self._key:
                self._index = ScreeningIndex(current_entries(self.deps, None))
                self._key = key
                gc.freeze()  # long-lived: the collector need not walk it on every pass
            return self._index

    def screen(self, who: Principal | None, name: str, *, dob: str | None = None,
               country: str | None = None, kind: EntityKind | None = None,
               threshold: float = THRESHOLD) -> list[Hit]:
        """The hits of a name (with what else is known of its bearer), best first."""
        _check(who)
        name = " ".join(name.split())
        if not name:
            raise Err.INVALID_FIELDS.error(fields={"name": "a name to screen"})
        query = Query(name=name, dob=dob or None, country=(country or "").lower() or None,
                      kind=kind)
        return self.index().screen(query, threshold=threshold)
