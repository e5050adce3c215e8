"""Checking the Spine Secure Proxy headers (implementation_api.md, "Spine Proxy Headers").

Clients SHALL send Ssp-TraceID, Ssp-From, Ssp-To and Ssp-InteractionID; the
interaction id must be the one for the verb and path (capabilitystatement.md and
the other interaction pages), and Ssp-To must be this gateway's ASID when it is
configured. How strictly is a setting (``SspSettings.enforcement``): OFF skips
the check, WARN reports problems for the caller to log, ENFORCE refuses with 403.

The HTTP layer needs one call::

    problems = apply_ssp_policy(request.headers, interaction, settings.security.ssp)
    if problems:  # only reached under WARN
        log.warning("ssp_headers_invalid", problems=problems)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.config import Enforcement, SspSettings
from gateway.errors import ApiError, ErrorKind
from gateway.security._text import shown
from gateway.security.interactions import Interaction

SSP_TRACE_ID = "Ssp-TraceID"
SSP_FROM = "Ssp-From"
SSP_TO = "Ssp-To"
SSP_INTERACTION_ID = "Ssp-InteractionID"
REQUIRED_SSP_HEADERS = (SSP_TRACE_ID, SSP_FROM, SSP_TO, SSP_INTERACTION_ID)


def check_ssp_headers(
    headers: Mapping[str, str], interaction: Interaction, settings: SspSettings
) -> list[str]:
    """Every problem with the request's SSP headers, in words; empty when all is well.

    Header names are matched case-insensitively (RFC 9110 section 5.1), so a
    plain dict works as well as aiohttp's CIMultiDictProxy.
    """
    found = {name.lower(): value.strip() for name, value in headers.items()}
    problems = [
        f"{name} header is missing" for name in REQUIRED_SSP_HEADERS if not found.get(name.lower())
    ]
    interaction_id = found.get(SSP_INTERACTION_ID.lower())
    if interaction_id and interaction_id != interaction.interaction_id:
        problems.append(
            f"{SSP_INTERACTION_ID} is {shown(interaction_id)} but {interaction.method} "
            f"{interaction.path} needs {interaction.interaction_id}"
        )
    to = found.get(SSP_TO.lower())
    if settings.asid and to and to != settings.asid:
        problems.append(f"{SSP_TO} is {shown(to)} but this gateway's ASID is {settings.asid}")
    return problems


def enforce_ssp(problems: Sequence[str], settings: SspSettings) -> None:
    """Raise ``ApiError(SSP_HEADERS)`` for ``problems`` when enforcement is ENFORCE."""
    if problems and settings.enforcement is Enforcement.ENFORCE:
        raise ApiError(ErrorKind.SSP_HEADERS, "; ".join(problems))


def apply_ssp_policy(
    headers: Mapping[str, str], interaction: Interaction, settings: SspSettings
) -> list[str]:
    """Check and enforce in one call: problems to log (WARN), a raise (ENFORCE), [] (OFF)."""
    if settings.enforcement is Enforcement.OFF:
        return []
    problems = check_ssp_headers(headers, interaction, settings)
    enforce_ssp(problems, settings)
    return problems
