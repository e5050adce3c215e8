"""The reference PAS peer: an MLLP server with its own SQLite diary.

Run it with ``python -m adapters.hl7v2.peer``; tests use ``PasPeer.start``.
"""

from adapters.hl7v2.peer.desk import DeskPatient
from adapters.hl7v2.peer.faults import Fault, FaultKind
from adapters.hl7v2.peer.server import PasPeer

__all__ = ["DeskPatient", "Fault", "FaultKind", "PasPeer"]
