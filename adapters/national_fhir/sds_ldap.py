"""The Spine Directory Service over LDAP (ldap3): the ``SdsTransport`` for real use.

Configure it as::

    sds:
      transport: adapters.national_fhir.sds_ldap:create
      options:
        url: ldaps://ldap.vn03.national.ncrs.nhs.uk   # the SDS LDAP service
        ca_file: /etc/uec-gateway/sds-ca.pem          # optional, for ldaps
        timeout_s: 5

SDS allows anonymous binds; ``bind_dn`` with ``password_env`` binds as a user.
ldap3 is synchronous, so each search runs in a worker thread, one at a time
on one connection (SDS lookups are rare: results are cached by the resolver).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from pydantic import BaseModel, ConfigDict, Field

from adapters._options import validate_options
from adapters.national_fhir._sds import LdapEntry, LdapQuery, SdsError

_SCOPES = {"base": ldap3.BASE, "sub": ldap3.SUBTREE}


class SdsLdapConfigError(ValueError):
    """The LDAP transport's options are wrong; the message says which."""


class SdsLdapOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^ldaps?://[^/\s]+/?$")
    bind_dn: str | None = None
    #: Environment variable holding the bind password (never the password itself).
    password_env: str | None = None
    ca_file: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class LdapSds:
    """An ``SdsTransport`` on one ldap3 connection."""

    def __init__(self, connection: ldap3.Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()

    def _search(self, query: LdapQuery) -> list[LdapEntry]:
        conn = self._connection
        if conn.closed and not conn.bind():
            raise SdsError("SDS: the LDAP bind was refused")
        conn.search(
            query.base,
            query.filter,
            search_scope=_SCOPES[query.scope],
            attributes=list(query.attributes),
        )
        entries: list[LdapEntry] = []
        for item in conn.response or []:
            if item.get("type", "searchResEntry") != "searchResEntry":
                continue
            attributes = item.get("attributes") or {}
            entries.append({name: _strings(value) for name, value in attributes.items()})
        return entries

    async def search(self, query: LdapQuery) -> Sequence[LdapEntry]:
        async with self._lock:
            try:
                return await asyncio.to_thread(self._search, query)
            except LDAPException as exc:
                # The exception names the server's complaint, never our query's values.
                raise SdsError(f"SDS: LDAP search failed ({type(exc).__name__})") from None

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._connection.unbind)


def _strings(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def connection(options: SdsLdapOptions, environ: Mapping[str, str]) -> ldap3.Connection:
    """An unbound ldap3 connection for ``options`` (bound lazily, on first search)."""
    tls = None
    if options.url.startswith("ldaps://"):
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=options.ca_file,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
    server = ldap3.Server(
        options.url,
        use_ssl=tls is not None,
        tls=tls,
        connect_timeout=options.timeout_s,
        get_info=ldap3.NONE,
    )
    password = None
    if options.password_env:
        password = environ.get(options.password_env)
        if not password:
            raise SdsLdapConfigError(f"sds: environment variable {options.password_env} is not set")
    return ldap3.Connection(
        server,
        user=options.bind_dn,
        password=password,
        receive_timeout=options.timeout_s,
        raise_exceptions=False,
        read_only=True,
    )


async def create(options: dict[str, Any]) -> LdapSds:
    """The transport factory named in ``sds.transport``."""
    settings = validate_options(
        SdsLdapOptions, options, name="sds", kind="sds-ldap", error=SdsLdapConfigError
    )
    return LdapSds(connection(settings, os.environ))
