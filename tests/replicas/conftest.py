"""The STU3 door fixtures, for gateways started side by side as replicas."""

from tests.api.conftest import gateway

__all__ = ["gateway"]
