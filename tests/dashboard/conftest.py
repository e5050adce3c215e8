"""The gateways and the PAS peer these tests drive come from the API and HL7 v2 tests."""

from tests.api.conftest import gateway  # noqa: F401 (a fixture)
from tests.hl7v2.conftest import peer  # noqa: F401 (a fixture)
