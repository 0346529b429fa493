"""ISO 20022 messages the platform reads and writes (issue 17; reusable by issue 19's
bank-statement work): pain.001 customer credit transfer initiation in (`pain001.read`),
pain.002 customer payment status report out (`pain002.write`).

Every message is checked against its official XML Schema (`xsd/`, copied unchanged from
the ISO 20022 message catalogue). Loading a schema reads a file that ships with the code
(package data, like a compiled table), once per process; nothing else here does I/O.
"""

from __future__ import annotations

import functools
from pathlib import Path

import xmlschema

XSD_DIR = Path(__file__).with_name("xsd")
NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
PAIN_001_VERSIONS = tuple(sorted(p.stem for p in XSD_DIR.glob("pain.001.*.xsd")))
PAIN_002_VERSIONS = tuple(sorted(p.stem for p in XSD_DIR.glob("pain.002.*.xsd")))
assert "pain.001.001.03" in PAIN_001_VERSIONS and "pain.001.001.09" in PAIN_001_VERSIONS


@functools.cache
def schema(version: str) -> xmlschema.XMLSchema10:
    """The message's schema (built once: a few hundred milliseconds each)."""
    assert version in PAIN_001_VERSIONS + PAIN_002_VERSIONS, version
    return xmlschema.XMLSchema10(str(XSD_DIR / f"{version}.xsd"))


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]
