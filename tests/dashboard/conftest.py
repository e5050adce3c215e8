"""The gateways these tests drive come from the API tests' fixture."""

from tests.api.conftest import gateway  # noqa: F401 (a fixture)
