"""The HL7 v2 pieces a front door may build on, as one public surface.

The HL7 v2 front door for legacy consumers (``gateway/hl7/``) speaks the same
dialect as this adapter, from the other side; it uses these rather than the
adapter's private modules.
"""

from adapters.hl7v2._frames import Heading, heading
from adapters.hl7v2._loggable import fingerprint, loggable_id
from adapters.hl7v2._mapping_tables import read_genders, read_identifiers
from adapters.hl7v2._options import TlsOptions
from adapters.hl7v2._pid import from_pid, to_pid

__all__ = [
    "Heading",
    "TlsOptions",
    "fingerprint",
    "from_pid",
    "heading",
    "loggable_id",
    "read_genders",
    "read_identifiers",
    "to_pid",
]
