"""This gateway's own version, as installed (``pyproject.toml``).

fs_authentication.md: a consumer's JWT ``requesting_device`` SHALL carry the
consumer product's ``model`` and ``version``; wherever the gateway names itself
(its CLI's test tokens, requests its HL7 v2 front door makes on behalf of a
legacy system, the CapabilityStatement) it gives this version.
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

#: The gateway's product name, as ``requesting_device.model``.
PRODUCT = "uec-gateway"


@functools.cache
def version() -> str:
    """The installed package's version ("0+unknown" when run from an uninstalled tree)."""
    try:
        return package_version(PRODUCT)
    except PackageNotFoundError:
        return "0+unknown"
