"""Names people see: one check for every display name (people, organisations,
departments, wallet labels, KYC names), so a name cannot hide or reorder what others read.

Refused: control characters (NUL, escape, DEL, C1), format characters (Unicode category
Cf: bidirectional overrides and isolates such as U+202E, zero-width spaces and joiners,
the soft hyphen, the byte-order mark), line and paragraph separators, surrogates,
private-use and unassigned code points. A name that spoofs another by reordering
("Ann\u202egnp.exe") or by invisible padding ("Ann\u200b") is refused, not cleaned:
cleaning would change what its author meant without telling them.

Known cost: U+200C/U+200D (zero-width non-joiner/joiner) are Cf and refused, though some
scripts (Persian, Indic) use them inside words; names there remain writable without them.
"""

from __future__ import annotations

import unicodedata

from corridor.platform.domain.errors import Problems

# Other: control, format, surrogate, private use, unassigned; line/paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unsafe_characters(text: str) -> list[str]:
    """The refused characters of `text` as U+XXXX, in order, each once."""
    seen: dict[str, None] = {}
    for ch in text:
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            seen.setdefault(f"U+{ord(ch):04X}", None)
    return list(seen)


def check_display_name(text: str, problems: Problems, field: str, length_max: int,
                       *, what: str = "characters") -> str:
    """`text` with runs of white space collapsed to one space; adds a problem to `field` if
    it is empty, longer than `length_max`, or holds a refused character (see the module)."""
    bad = unsafe_characters(text)
    name = " ".join(text.split())
    if bad:
        problems.add(field, "control or invisible characters are not allowed: "
                     + ", ".join(bad[:5]))
    elif not 1 <= len(name) <= length_max:
        problems.add(field, f"1 to {length_max} {what}")
    return name
