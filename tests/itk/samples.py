"""The ITK samples written by others (``../shared/samples/itk-cda``, ``itk-responses``)."""

from __future__ import annotations

from pathlib import Path

from tests.samples import SHARED_SAMPLES

CDA_DIR = SHARED_SAMPLES / "itk-cda"
RESPONSES_DIR = SHARED_SAMPLES / "itk-responses"


def requests() -> list[Path]:
    return sorted(CDA_DIR.glob("*.xml"))


def response(name: str) -> bytes:
    return (RESPONSES_DIR / f"nhsconnect_integration-adaptors__{name}.xml").read_bytes()
