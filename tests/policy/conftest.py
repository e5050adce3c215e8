"""The doors' own rigs (real gateways on 127.0.0.1), each given a policy folder."""

from tests.bars.conftest import both_doors  # noqa: F401 (a fixture)
from tests.hl7_front_door.conftest import start_door  # noqa: F401 (a fixture)
from tests.itk.conftest import itk_gateway  # noqa: F401 (a fixture)
