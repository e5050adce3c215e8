"""The security layer of the FHIR provider surface: pure checks the HTTP layer calls.

- ``interactions``: each FHIR interaction with its JWT scope and Ssp-InteractionID;
- ``jwt``: ``verify_bearer`` (the consumer's JWT, fs_authentication.md) and ``load_keys``;
- ``tokens``: ``mint_token`` (standard-conformant consumer JWTs for the CLI and tests);
- ``ssp``: the Spine proxy header checks (implementation_api.md).
"""

from gateway.security.interactions import (
    SCOPE_PERMITS,
    Interaction,
    InteractionSpec,
    Scope,
    permits,
    resolve,
    scopes_permitting,
)
from gateway.security.jwt import (
    REQUIRED_CLAIMS,
    Claims,
    KeyLoadError,
    KeyRing,
    VerificationKey,
    load_keys,
    verify_bearer,
)
from gateway.security.ssp import (
    REQUIRED_SSP_HEADERS,
    apply_ssp_policy,
    check_ssp_headers,
    enforce_ssp,
)
from gateway.security.tokens import build_payload, encode_token, mint_token

__all__ = [
    "REQUIRED_CLAIMS",
    "REQUIRED_SSP_HEADERS",
    "SCOPE_PERMITS",
    "Claims",
    "Interaction",
    "InteractionSpec",
    "KeyLoadError",
    "KeyRing",
    "Scope",
    "VerificationKey",
    "apply_ssp_policy",
    "build_payload",
    "check_ssp_headers",
    "encode_token",
    "enforce_ssp",
    "load_keys",
    "mint_token",
    "permits",
    "resolve",
    "scopes_permitting",
    "verify_bearer",
]
