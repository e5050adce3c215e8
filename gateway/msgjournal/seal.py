"""Payloads sealed at rest: AES-256-GCM, a fresh 96-bit nonce each, the row id as associated
data (so a sealed payload moved to another row does not open)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Stored form: VERSION, nonce, ciphertext and tag.
VERSION = b"\x01"
_NONCE = 12


class KeyUnusable(ValueError):
    """The journal key variable is set but holds no 32-byte key."""


class SealBroken(ValueError):
    """A sealed payload does not open under this key (another key, or altered)."""


def read_key(name: str | None, environ: Mapping[str, str] = os.environ) -> bytes | None:
    """The 32-byte key in variable ``name`` (hex or base64); None if unnamed or unset."""
    text = environ.get(name, "").strip() if name else ""
    if not text:
        return None
    for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise KeyUnusable(f"{name} must hold a 32-byte key, hex or base64")


def seal(key: bytes, row_id: str, payload: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, payload, row_id.encode())


def unseal(key: bytes, row_id: str, sealed: bytes) -> bytes:
    if sealed[:1] != VERSION:
        raise SealBroken("unknown sealed payload version")
    nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
    try:
        return AESGCM(key).decrypt(nonce, body, row_id.encode())
    except InvalidTag:
        raise SealBroken("the payload does not open under the journal key") from None
