"""ISO 20022 messages the platform reads and writes (issue 17; reusable by issue 19's
bank-statement work): pain.001 customer credit transfer initiation in (`pain001.read`),
pain.002 customer payment status report out (`pain002.write`).

Every message is checked against its official XML Schema (`xsd/`, copied unchanged from
the ISO 20022 message catalogue). Loading a schema reads a file that ships with the code
(package data, like a compiled table), once per process; nothing else here does I/O.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).with_name("xsd")
NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
PAIN_001_VERSIONS = tuple(sorted(p.stem for p in XSD_DIR.glob("pain.001.*.xsd")))
PAIN_002_VERSIONS = tuple(sorted(p.stem for p in XSD_DIR.glob("pain.002.*.xsd")))
assert "pain.001.001.03" in PAIN_001_VERSIONS and "pain.001.001.09" in PAIN_001_VERSIONS


ERRORS_MAX = 2_000  # schema errors reported for one document


@functools.cache
def schema(version: str) -> etree.XMLSchema:
    """The message's schema, compiled once by libxml2 (lxml): a 10,000-item pain.001 is
    validated in a fraction of a second (pure-Python validators take ~1 ms an item)."""
    assert version in PAIN_001_VERSIONS + PAIN_002_VERSIONS, version
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{version}.xsd"), _parser()))


def _parser() -> etree.XMLParser:
    """No entities expanded, nothing fetched, no DTD: an upload cannot make the parser
    read files, reach the network or expand a billion laughs."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           remove_comments=True, remove_pis=True, huge_tree=False)


def parse(data: bytes) -> etree._Element:
    """The document's root; etree.XMLSyntaxError when it is not well-formed XML."""
    return etree.fromstring(data, _parser())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SchemaError:
    """One schema error: the element's path by name, the element itself, plain words."""

    path: str
    element: etree._Element | None
    message: str


def errors(version: str, root: etree._Element) -> list[SchemaError]:
    """Every schema error of the document (up to ERRORS_MAX), in document order."""
    xsd = schema(version)
    if xsd.validate(root):
        return []
    tree = root.getroottree()
    out = []
    for e in list(xsd.error_log)[:ERRORS_MAX]:
        found = tree.xpath(e.path) if e.path else []
        element = found[0] if isinstance(found, list) and found and isinstance(
            found[0], etree._Element) else None
        path = named_path(element) if element is not None else "/"
        message = e.message.split("': ", 1)[-1] if e.message.startswith("Element '") \
            else e.message
        out.append(SchemaError(path=path, element=element, message=message[:300]))
    return out


def named_path(element: etree._Element) -> str:
    """'/Document/CstmrCdtTrfInitn/PmtInf/PmtMtd' for an element (names, no positions)."""
    names = [local(a.tag) for a in reversed(list(element.iterancestors()))]
    return "/" + "/".join([*names, local(element.tag)])


def local(tag: object) -> str:
    """An element's name without its namespace."""
    return str(tag).rpartition("}")[2]
