"""Writes the labelled name pairs of `corridor compliance eval-names` (tests/data/screening):
pairs generated from the sample lists in ../shared/data/sanctions (variations of each
subject's name, its aliases in other scripts, near-misses between different subjects,
common names of unlisted people) plus the hand-written cross-script pairs of
names-curated.csv, split by subject into a tune half and a hold-out half (a subject's
pairs all fall in one half). Seeded: the same inputs give the same files.

Usage: python scripts/screening_evalset.py [SANCTIONS_DIR]"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

from corridor.platform.domain.screening import evaluation, readers

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "screening"
SEED = 16


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else evaluation.sample_lists()
    ofac = src / "ofac"
    entries = readers.read_ofac((ofac / "sdn.csv").read_bytes(), (ofac / "alt.csv").read_bytes(),
                                (ofac / "add.csv").read_bytes())
    entries += readers.read_csl((src / "csl" / "consolidated.csv").read_bytes())
    for f in sorted((src / "ftm").glob("*.json")):
        entries += readers.read_ftm(f.read_bytes())
    common = [n for n in (OUT / "common-names.txt").read_text().splitlines() if n.strip()]
    rows: dict[str, list[list[str]]] = {"tune": [], "holdout": []}
    for subject, pair in evaluation.generate(entries, common, SEED):
        half = "tune" if hashlib.sha256(subject.encode()).digest()[0] % 2 == 0 else "holdout"
        schema = "Person" if pair.kind.value == "person" else "Company"
        rows[half].append([pair.name1, pair.name2, "true" if pair.is_match else "false",
                           schema, pair.variation])
    with (OUT / "names-curated.csv").open(newline="") as f:
        for i, r in enumerate(csv.DictReader(f)):
            rows["tune" if i % 2 == 0 else "holdout"].append(
                [r["name1"], r["name2"], r["is_match"], r["schema"], r["variation"]])
    for half, items in rows.items():
        with (OUT / f"names-{half}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name1", "name2", "is_match", "schema", "variation"])
            w.writerows(items)
        print(f"{half}: {len(items)} pairs, {sum(r[2] == 'true' for r in items)} matches")


if __name__ == "__main__":
    main()
