"""The pages' message catalogue: extracts every message of the web package (Python marked
with N_ / gettext, templates' _() and {% trans %}) and merges it into the Chinese `.po`,
keeping the translations already there and adding new messages untranslated (which
tests/web/test_i18n.py then refuses until someone translates them).

Usage: .venv/bin/python scripts/web_messages.py          (update the .po)
       .venv/bin/python scripts/web_messages.py --check  (exit 1 if it would change)
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).resolve().parents[1] / "src" / "corridor" / "web"
PO = WEB / "locale" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def extracted() -> Catalog:
    catalogue = Catalog(project="corridor-web", locale="zh_Hans_CN")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(WEB), METHODS, options_map=OPTIONS, keywords=KEYWORDS):
        catalogue.add(message, None, [(filename, lineno)], auto_comments=comments,
                      context=context)
    return catalogue


def merged() -> Catalog:
    template = extracted()
    with PO.open("rb") as f:
        current = read_po(f, locale="zh_Hans_CN")
    template.creation_date = current.creation_date  # no churn from the date alone
    current.update(template, no_fuzzy_matching=True)
    current.obsolete.clear()
    current.fuzzy = False
    return current


def rendered(catalogue: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalogue, width=100, omit_header=False, sort_output=True)
    return out.getvalue()


def main(argv: list[str]) -> int:
    if not PO.exists():
        PO.parent.mkdir(parents=True, exist_ok=True)
        PO.write_bytes(rendered(Catalog(locale="zh_Hans_CN", project="corridor-web")))
    new = rendered(merged())
    if "--check" in argv:
        return 0 if new == PO.read_bytes() else 1
    PO.write_bytes(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
