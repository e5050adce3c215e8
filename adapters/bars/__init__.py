"""The ``bars`` adapter: book and refer into BaRS receivers through the national proxy.

Configured as ``kind: bars`` with options ``proxy_url``, ``token_url``, ``client_id``,
``kid``, ``private_key_file`` or ``private_key_env``, ``targets`` (the CSV table of
``mappings/bars_sender/README.md``), ``organisation``, ``software`` and optionally
``timeout_s``, ``attempts``, ``cancel_attempts``, ``capability_cache_s``, ``backoff_s``,
``booking`` (auto|message|rest), ``callback`` and ``log_name``; see
``config/example-bars.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from adapters.bars._capability import Capabilities
from adapters.bars._errors import BY_CODE, CODES, CodeRule, Op, error_for
from adapters.bars._options import BarsConfigError, BarsOptions, parse_options
from adapters.bars._targets import TargetEntry, TargetsError, load_targets
from adapters.bars._token import TokenSource, load_key
from adapters.bars._wire import Wire
from adapters.bars.adapter import BarsAdapter
from adapters.bars_toolkit.messages import Party
from adapters.contract import SupplierAdapter
from adapters.domain import CallContext, Identifier, RequestingDevice, RequestingOrganisation

__all__ = [
    "BY_CODE",
    "CODES",
    "BarsAdapter",
    "BarsConfigError",
    "BarsOptions",
    "CodeRule",
    "Op",
    "TargetEntry",
    "TargetsError",
    "check",
    "create",
    "error_for",
    "load_targets",
]


def check(name: str, options: Mapping[str, Any], base_dir: Path) -> None:
    """Validate options and the targets table, opening nothing.

    The private key is a secret of the running host (a file or an environment variable
    it alone has), so it is read when the adapter is created, not by ``check-config``.
    """
    settings = parse_options(name, options)
    load_targets(settings.targets_path(base_dir))


def _identity(settings: BarsOptions) -> Any:
    org = RequestingOrganisation(
        ods_code=settings.organisation.ods_code, name=settings.organisation.name
    )
    software = settings.software
    device = RequestingDevice(
        identifier=Identifier(system=software.system, value=software.value),
        model=software.name,
        version=software.version,
    )

    def fill(ctx: CallContext) -> CallContext:
        # NHSD-End-User-Organisation / -Requesting-Software: the caller's when known.
        return ctx.model_copy(
            update={"organisation": ctx.organisation or org, "device": ctx.device or device}
        )

    return fill


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the adapter ``name`` (the registry's ``adapters.bars:create``)."""
    settings = parse_options(name, options)
    targets = load_targets(settings.targets_path(base_dir))
    try:
        key = load_key(settings.private_key(base_dir))
    except ValueError as exc:
        raise BarsConfigError(f"adapter '{name}' (bars): {exc}") from None
    adapter = build(name, settings, targets, key)
    if settings.callback is not None:
        from adapters.bars._listener import start_callback

        adapter.callback = await start_callback(adapter, settings.callback)
    return adapter


def build(
    name: str, settings: BarsOptions, targets: dict[str, TargetEntry], key: Any
) -> BarsAdapter:
    log_name = settings.log_name or name
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
    tokens = TokenSource(
        session,
        token_url=settings.token_url,
        client_id=settings.client_id,
        kid=settings.kid,
        key=key,
    )
    wire = Wire(
        session,
        settings.proxy_url,
        tokens,
        attempts=settings.attempts,
        backoff_s=settings.backoff_s,
        adapter=log_name,
        identity=_identity(settings),
    )
    org = settings.organisation
    endpoint = (
        settings.callback_endpoint or f"https://fhir.nhs.uk/Id/ods-organization-code|{org.ods_code}"
    )
    sender = Party(
        org.ods_code, endpoint, org.name, settings.software.name, settings.software.version
    )
    return BarsAdapter(
        name,
        wire=wire,
        session=session,
        targets=targets,
        capabilities=Capabilities(settings.capability_cache_s),
        sender=sender,
        timeout_s=settings.timeout_s,
        cancel_attempts=settings.cancel_attempts,
        booking=settings.booking,
        log_name=log_name,
    )
