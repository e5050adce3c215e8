"""NHSD-Target-Identifier -> the gateway service id it names (End-to-end-workflow/Routing).

The national proxy routes a request to this receiver by the Endpoint Catalogue;
the header then says which of the receiver's services it is for. Targets come
from ``bars.targets`` in the configuration and, optionally, a CSV table
(``mappings/bars/``: ``system,value,service``). A DoS service id the gateway
already serves under the same id needs no row (docs/spec-choices.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters._csvtable import read_table
from gateway.bars.errors import Rec, RecError
from gateway.bars.headers import TargetId
from gateway.config import BarsSettings, BarsTarget, Settings
from gateway.routing import Router

DOS_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"


def mount_problem(settings: Settings) -> str | None:
    """Why the door cannot be mounted where configured (its root inside the STU3 one's, or
    around it), if it cannot."""
    bars = settings.bars
    if bars is None:
        return None
    ours, stu3 = bars.base_path.rstrip("/") + "/", settings.server.base_path.rstrip("/") + "/"
    if ours.startswith(stu3) or stu3.startswith(ours):
        return (
            f"bars.service_root path {bars.base_path} overlaps server.service_root path "
            f"{settings.server.base_path}; give each door its own"
        )
    return None


def load_targets(settings: Settings, bars: BarsSettings) -> tuple[BarsTarget, ...]:
    """The configured targets plus the rows of ``bars.targets_file``; a target given twice
    (or a bad row) raises, naming it."""
    rows: list[BarsTarget] = list(bars.targets)
    seen = {(t.system, t.value) for t in rows}
    if len(seen) != len(rows):
        raise ValueError("bars.targets names one target twice")
    if bars.targets_file is not None:
        path = settings.resolve(bars.targets_file)
        for row in read_table(path.parent, path.name, ("system", "value", "service")):
            target = BarsTarget(
                system=row.required("system"),
                value=row.required("value"),
                service=row.required("service"),
            )
            if (target.system, target.value) in seen:
                raise row.error("value", f"target {target.system}|{target.value} is listed twice")
            seen.add((target.system, target.value))
            rows.append(target)
    return tuple(rows)


class Targets:
    """Which gateway service a target identifier names."""

    def __init__(self, rows: Iterable[BarsTarget]) -> None:
        self._rows = {(r.system, r.value): r.service for r in rows}

    def service_for(self, target: TargetId, router: Router) -> str:
        """The service id; 404 REC_NOT_FOUND if no service of this receiver is that target."""
        service = self._rows.get((target.system, target.value))
        if service is None and target.system == DOS_SYSTEM:
            # A DoS service id is the national service id STU3 consumers search by.
            service = target.value
        if service is None or router.for_service(service) is None:
            raise RecError(
                Rec.NOT_FOUND,
                "not-found",
                f"no service here is the target {target.system[:80]}|{target.value[:40]}",
                expression="http.NHSD-Target-Identifier",
            )
        return service
