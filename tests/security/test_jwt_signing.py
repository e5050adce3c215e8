"""Signed tokens: load_keys at start-up and signature checks in verify_bearer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.config import ConfigError, JwtKey, JwtSettings
from gateway.errors import ErrorKind
from gateway.security import KeyLoadError, KeyRing, encode_token, load_keys
from tests.security.helpers import HS_SECRET, NOW, payload, rejection, unsigned, verify

ENV = {"GW_JWT_SECRET": HS_SECRET}
HS = JwtKey(algorithm="HS256", secret_env="GW_JWT_SECRET")


def _ring(*keys: JwtKey, base_dir: Path = Path("."), environ: dict[str, str] = ENV) -> KeyRing:
    return load_keys(JwtSettings(keys=keys), base_dir, environ)


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _write_public(path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_hs256_verifies_with_right_key() -> None:
    """An HS256 token signed with the configured secret is accepted."""
    token = encode_token(payload(), algorithm="HS256", key=HS_SECRET)
    assert verify(token, keys=_ring(HS)).algorithm == "HS256"


def test_hs256_fails_with_wrong_key() -> None:
    """An HS256 token signed with another secret is refused as a bad signature."""
    token = encode_token(payload(), algorithm="HS256", key="another-secret-of-32-bytes-or-more!!")
    exc = rejection(token, ErrorKind.JWT_INVALID, keys=_ring(HS))
    assert "signature" in exc.diagnostics and "does not verify" in exc.diagnostics


def test_tampered_payload_fails_signature() -> None:
    """Changing a claim after signing breaks the signature."""
    header, _, sig = encode_token(payload(), algorithm="HS256", key=HS_SECRET).split(".")
    body = unsigned(payload(sub="10020")).split(".")[1]
    rejection(f"{header}.{body}.{sig}", ErrorKind.JWT_INVALID, keys=_ring(HS))


def test_rs256_verifies_with_public_key_file(
    tmp_path: Path, rsa_private: rsa.RSAPrivateKey
) -> None:
    """An RS256 token verifies against a PEM public key file resolved from base_dir."""
    _write_public(tmp_path / "consumer.pem", rsa_private)
    ring = _ring(JwtKey(algorithm="RS256", public_key_file=Path("consumer.pem")), base_dir=tmp_path)
    token = encode_token(payload(), algorithm="RS256", key=_pem_private(rsa_private))
    assert verify(token, keys=ring).algorithm == "RS256"


def test_rs256_from_other_key_pair_fails(tmp_path: Path, rsa_private: rsa.RSAPrivateKey) -> None:
    """An RS256 token from a different key pair is refused."""
    _write_public(tmp_path / "consumer.pem", rsa_private)
    ring = _ring(JwtKey(algorithm="RS256", public_key_file=tmp_path / "consumer.pem"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = encode_token(payload(), algorithm="RS256", key=_pem_private(other))
    rejection(token, ErrorKind.JWT_INVALID, keys=ring)


def test_alg_confusion_hs256_with_public_key_is_refused(
    tmp_path: Path, rsa_private: rsa.RSAPrivateKey
) -> None:
    """An HS256 token 'signed' with the RSA public key PEM is not verified by the RSA key."""
    pem = _write_public(tmp_path / "consumer.pem", rsa_private).read_bytes()
    ring = _ring(JwtKey(algorithm="RS256", public_key_file=tmp_path / "consumer.pem"))
    header = encode_token(payload(), algorithm="HS256", key=HS_SECRET).split(".")[0]
    body = unsigned(payload()).split(".")[1]
    mac = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    exc = rejection(token, ErrorKind.JWT_INVALID, keys=ring)
    assert "no verification key is configured for alg 'HS256'" in exc.diagnostics


def test_kid_selects_the_key() -> None:
    """With several keys, the token's kid picks the one that verifies."""
    env = ENV | {"OTHER": "z" * 40}
    ring = _ring(
        JwtKey(kid="old", algorithm="HS256", secret_env="OTHER"),
        JwtKey(kid="new", algorithm="HS256", secret_env="GW_JWT_SECRET"),
        environ=env,
    )
    good = encode_token(payload(), algorithm="HS256", key=HS_SECRET, kid="new")
    verify(good, keys=ring)
    mislabelled = encode_token(payload(), algorithm="HS256", key=HS_SECRET, kid="old")
    rejection(mislabelled, ErrorKind.JWT_INVALID, keys=ring)
    unknown = encode_token(payload(), algorithm="HS256", key=HS_SECRET, kid="nope")
    exc = rejection(unknown, ErrorKind.JWT_INVALID, keys=ring)
    assert "kid 'nope'" in exc.diagnostics


def test_signed_token_without_configured_keys_says_so() -> None:
    """A signed token when no keys are configured is refused, saying no keys are configured."""
    token = encode_token(payload(), algorithm="HS256", key=HS_SECRET)
    exc = rejection(token, ErrorKind.JWT_INVALID)
    assert "no verification keys are configured" in exc.diagnostics


def test_signed_accepted_when_unsigned_disallowed() -> None:
    """allow_unsigned False still accepts a correctly signed token."""
    token = encode_token(payload(), algorithm="HS256", key=HS_SECRET)
    verify(token, keys=_ring(HS), settings=JwtSettings(allow_unsigned=False))


def test_missing_secret_env_var_is_named() -> None:
    """A secret_env naming an unset variable fails start-up, naming the variable."""
    with pytest.raises(KeyLoadError, match="environment variable GW_JWT_SECRET is not set"):
        _ring(HS, environ={})


def test_short_secret_is_refused() -> None:
    """An HMAC secret below RFC 7518's minimum length fails start-up."""
    with pytest.raises(KeyLoadError, match="too weak"):
        _ring(HS, environ={"GW_JWT_SECRET": "short"})


def test_unreadable_key_file_is_named(tmp_path: Path) -> None:
    """A public_key_file that cannot be read fails start-up, naming the file."""
    missing = tmp_path / "absent.pem"
    with pytest.raises(KeyLoadError, match=re.escape(str(missing))):
        _ring(JwtKey(algorithm="RS256", public_key_file=missing))


def test_private_key_file_is_refused(tmp_path: Path, rsa_private: rsa.RSAPrivateKey) -> None:
    """A private key in public_key_file fails start-up (it has no place on the gateway)."""
    path = tmp_path / "private.pem"
    path.write_text(_pem_private(rsa_private))
    with pytest.raises(KeyLoadError, match="does not hold a PEM public key"):
        _ring(JwtKey(algorithm="RS256", public_key_file=path))


def test_key_type_must_fit_algorithm(tmp_path: Path) -> None:
    """An EC public key configured for RS256 fails start-up."""
    path = _write_public(tmp_path / "ec.pem", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyLoadError, match="cannot be used with RS256"):
        _ring(JwtKey(algorithm="RS256", public_key_file=path))


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (JwtKey(algorithm="none", secret_env="GW_JWT_SECRET"), "not supported"),
        (JwtKey(algorithm="HS256"), "exactly one of"),
        (JwtKey(algorithm="RS256", secret_env="GW_JWT_SECRET"), "needs public_key_file"),
        (JwtKey(algorithm="HS256", public_key_file=Path("k.pem")), "needs secret_env"),
    ],
)
def test_inconsistent_key_config_is_refused(key: JwtKey, says: str) -> None:
    """Key settings that cannot work fail start-up with a ConfigError saying why."""
    with pytest.raises(ConfigError, match=says):
        _ring(key)


def test_key_ring_repr_hides_secrets() -> None:
    """A loaded HMAC secret never appears in the ring's repr (and so in logs)."""
    assert HS_SECRET not in repr(_ring(HS))


@pytest.mark.parametrize("nbf", [NOW + 3600, "soon", True, NOW + 0.5])
def test_signed_token_not_yet_valid_or_with_a_non_numeric_nbf_is_refused(nbf: object) -> None:
    """Row 12: a signed JWT whose nbf is an hour ahead, or not a NumericDate, is a 403."""
    token = encode_token(payload(nbf=nbf), algorithm="HS256", key=HS_SECRET)
    settings = JwtSettings(keys=(HS,), allow_unsigned=False)
    exc = rejection(token, ErrorKind.JWT_INVALID, keys=_ring(HS), settings=settings)
    assert "nbf" in exc.diagnostics


def test_signed_token_with_nbf_now_or_within_the_skew_is_accepted() -> None:
    """Row 12: nbf at or before now, or within the clock skew allowance, is accepted."""
    settings = JwtSettings(keys=(HS,), allow_unsigned=False)
    for nbf in (NOW - 60, NOW, NOW + settings.clock_skew_s):
        token = encode_token(payload(nbf=nbf), algorithm="HS256", key=HS_SECRET)
        assert verify(token, keys=_ring(HS), settings=settings).algorithm == "HS256"
