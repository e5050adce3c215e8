"""The provider table: which ITK addresses, interaction and endpoint each national service has.

``providers.csv`` (``mappings/itk_sender/README.md``): ``service_id, address, address_type,
interaction, endpoint``. A service may have several rows (several addresses in the
``addresslist``), all with the same interaction and endpoint. A referral for a service
with no row is a ``MappingError``, never sent to a guessed address.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from adapters._csvtable import DataFileError, Row, read_table
from adapters._http_options import http_url
from adapters.itk_toolkit.distribution import Address
from adapters.itk_toolkit.names import DOS_ADDRESS_TYPE

FILE = "providers.csv"


@dataclass(frozen=True, slots=True)
class Provider:
    service_id: str
    addresses: tuple[Address, ...]
    #: The handling specification's interaction id.
    interaction: str
    #: This provider's own endpoint, if not the adapter's.
    endpoint: str | None = None


def _address(row: Row) -> Address:
    uri = row.required("address")
    if any(c.isspace() for c in uri):
        raise row.error("address", "an address has no spaces")
    kind = row.optional("address_type")
    if kind is None and not uri.startswith("urn:"):
        # A bare DoS service id (digits) is an address of the DoS type.
        if not uri.isdigit():
            raise row.error("address", "not an ITK URI (urn:...) nor a DoS service id")
        kind = DOS_ADDRESS_TYPE
    return Address(uri, kind)


def _interaction(row: Row) -> str:
    value = row.required("interaction")
    if not value.startswith("urn:nhs-itk:interaction:"):
        raise row.error("interaction", "expected urn:nhs-itk:interaction:...")
    return value


def _endpoint(row: Row) -> str | None:
    value = row.optional("endpoint")
    if value is None:
        return None
    try:
        return http_url(value)
    except ValueError as exc:
        raise row.error("endpoint", str(exc)) from None


def load_providers(folder: Path) -> dict[str, Provider]:
    """The table by national service id; ``DataFileError`` naming the row otherwise."""
    rows = read_table(
        folder, FILE, ("service_id", "address", "interaction"), ("address_type", "endpoint")
    )
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.required("service_id")].append(row)
    return {service: _provider(service, group) for service, group in grouped.items()}


def _provider(service: str, rows: list[Row]) -> Provider:
    first = rows[0]
    interaction, endpoint = _interaction(first), _endpoint(first)
    addresses: list[Address] = []
    for row in rows:
        if _interaction(row) != interaction:
            raise row.error("interaction", f"service {service} already has {interaction}")
        if _endpoint(row) != endpoint:
            raise row.error("endpoint", f"service {service} has another on line {first.line}")
        address = _address(row)
        if address in addresses:
            raise row.error("address", f"'{address.uri}' is listed twice for service {service}")
        addresses.append(address)
    if not rows:
        raise DataFileError(FILE, f"service {service} has no address")
    return Provider(service, tuple(addresses), interaction, endpoint)
