"""A policy folder for a test's gateway: the demo's files copied, optionally edited.

``mappings/policy/demo`` puts A1001/A1002/RX1 in the north east (the demo services'
own region), B2001/B2002 in the south west and C3001 in London.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.samples import ROOT

DEMO_POLICY = ROOT / "mappings" / "policy" / "demo"
#: The demo urgent treatment centre: anyone books, release rules, out-of-area reason needed.
CENTRE = "918999198999"
#: The demo telephone service: bookable by the north east and by ods:C3001 only.
PHONE = "918999198888"
IN_AREA = "A1001"
OUT_OF_AREA = "B2001"
LONDON_CAS = "C3001"
REASON = "patient-travelling"
#: ``policy_folder`` edits: the demo centre bookable (and referrable) by the north east
#: and the London CAS only.
CENTRE_NARROWED = {
    "    book: [any]\n    cancel": f"    book: [in-area, ods:{LONDON_CAS}]\n    cancel"
}


def policy_folder(tmp: Path, replace: dict[str, str] | None = None) -> Path:
    """A copy of the demo policy in ``tmp/policy``, each ``replace`` key swapped in policy.yaml."""
    folder = tmp / "policy"
    shutil.copytree(DEMO_POLICY, folder)
    yaml = folder / "policy.yaml"
    text = yaml.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text, f"policy.yaml has no '{old}' to replace"
        text = text.replace(old, new)
    yaml.write_text(text, encoding="utf-8")
    return folder
