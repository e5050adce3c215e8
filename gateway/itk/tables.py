"""The ITK door's tables (``mappings/itk/<folder>/*.csv``), validated on load.

- ``services.csv``: the ITK services (and so WS-Addressing Actions) accepted;
- ``interactions.csv``: the interaction ids accepted, each taking ``one`` CDA
  document or a document ``set``;
- ``addresses.csv``: ODS codes and DoS ids of the address list to the
  gateway's service ids; with ``known_services`` every one must be configured.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters._csvtable import DataFileError, read_table, unique_ids

ADDRESS_TYPES = ("ods", "dos")
PAYLOAD_KINDS = ("one", "set")

__all__ = ["DataFileError", "Tables", "load_tables"]


@dataclass(frozen=True)
class Tables:
    services: frozenset[str]
    #: interaction id -> "one" or "set".
    interactions: Mapping[str, str]
    #: (type, address) -> service id.
    addresses: Mapping[tuple[str, str], str]

    def service_for(self, kind: str, key: str) -> str | None:
        return self.addresses.get((kind, key))


def load_tables(folder: Path, known_services: Collection[str] | None = None) -> Tables:
    """Read and check every table in ``folder``; raises ``DataFileError`` naming the row."""
    if not folder.is_dir():
        raise DataFileError(str(folder), "mapping folder not found")
    return Tables(_services(folder), _interactions(folder), _addresses(folder, known_services))


def _services(folder: Path) -> frozenset[str]:
    rows = read_table(folder, "services.csv", ("service",), ("meaning",))
    found = unique_ids(rows, "service")
    for service, row in found.items():
        if not service.startswith("urn:nhs-itk:services:"):
            raise row.error("service", f"'{service[:60]}' is not an ITK service URN")
    return frozenset(found)


def _interactions(folder: Path) -> dict[str, str]:
    rows = read_table(folder, "interactions.csv", ("interaction", "payloads"), ("meaning",))
    out: dict[str, str] = {}
    for interaction, row in unique_ids(rows, "interaction").items():
        if not interaction.startswith("urn:nhs-itk:interaction:"):
            raise row.error("interaction", f"'{interaction[:60]}' is not an ITK interaction id")
        kind = row.required("payloads")
        if kind not in PAYLOAD_KINDS:
            raise row.error("payloads", f"'{kind}' is not one of {', '.join(PAYLOAD_KINDS)}")
        out[interaction] = kind
    return out


def _addresses(folder: Path, known: Collection[str] | None) -> dict[tuple[str, str], str]:
    rows = read_table(folder, "addresses.csv", ("type", "address", "service_id"), ("meaning",))
    out: dict[tuple[str, str], str] = {}
    lines: dict[tuple[str, str], int] = {}
    for row in rows:
        kind, address = row.required("type"), row.required("address")
        if kind not in ADDRESS_TYPES:
            raise row.error("type", f"'{kind}' is not one of {', '.join(ADDRESS_TYPES)}")
        if (kind, address) in out:
            first = lines[(kind, address)]
            raise row.error(
                "address", f"duplicate {kind} address '{address}' (first on line {first})"
            )
        service = row.required("service_id")
        if known is not None and service not in known:
            raise row.error("service_id", f"'{service}' is not a service of the configuration")
        out[(kind, address)] = service
        lines[(kind, address)] = row.line
    return out
