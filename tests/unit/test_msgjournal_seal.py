"""Payloads sealed at rest (gateway/msgjournal/seal.py): keys read, rows bound, tampering found."""

from __future__ import annotations

import base64

import pytest

from gateway.msgjournal.seal import KeyUnusable, SealBroken, read_key, seal, unseal

KEY = bytes(range(32))
MESSAGE = b"MSH|^~\\&|PAS|PAS-FACILITY|...\rPID|1||9434765919^^^NHS^NH\r"


def test_a_key_is_read_as_hex_or_base64_and_none_when_unset() -> None:
    """The key variable may hold hex or base64; unnamed or empty means no key."""
    assert read_key("K", {"K": KEY.hex()}) == KEY
    assert read_key("K", {"K": base64.b64encode(KEY).decode()}) == KEY
    assert read_key("K", {"K": base64.urlsafe_b64encode(KEY).decode()}) == KEY
    assert read_key("K", {}) is None
    assert read_key(None, {"K": KEY.hex()}) is None


def test_a_key_of_the_wrong_size_is_refused_by_name_without_its_value() -> None:
    """A variable holding no 32-byte key is an error naming the variable, never the value."""
    with pytest.raises(KeyUnusable) as caught:
        read_key("UEC_JOURNAL_KEY", {"UEC_JOURNAL_KEY": "short-secret"})
    assert "UEC_JOURNAL_KEY" in str(caught.value) and "short-secret" not in str(caught.value)


def test_a_sealed_payload_hides_the_message_and_opens_only_for_its_row() -> None:
    """Sealing hides the bytes; the payload opens under its row id and key, and no other."""
    sealed = seal(KEY, "row-1", MESSAGE)
    assert b"9434765919" not in sealed and seal(KEY, "row-1", MESSAGE) != sealed
    assert unseal(KEY, "row-1", sealed) == MESSAGE
    with pytest.raises(SealBroken):
        unseal(KEY, "row-2", sealed)
    with pytest.raises(SealBroken):
        unseal(bytes(32), "row-1", sealed)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealBroken):
        unseal(KEY, "row-1", altered)
