"""Loading JWT verification keys at start-up (secrets from env, public keys from PEM)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWS
from jwt.exceptions import PyJWTError

from gateway.config import ConfigError, JwtKey, JwtSettings

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

#: The public key types PyJWT can verify with.
PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey


class KeyLoadError(ConfigError):
    """A configured JWT key cannot be loaded; the message names the key and its source."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One key, bound to the single algorithm it may verify (no alg confusion)."""

    algorithm: str
    # repr=False: an HMAC secret must never reach a log line.
    material: bytes | PublicKey = field(repr=False)
    kid: str | None = None
    #: Where it came from ("environment variable X", "file Y"), for start-up logs.
    source: str = ""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The resolved key material ``verify_bearer`` checks signatures against."""

    keys: tuple[VerificationKey, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self.keys)

    def candidates(self, algorithm: str, kid: str | None) -> tuple[VerificationKey, ...]:
        """Keys that may verify a token with this ``alg`` and ``kid``.

        A token's kid selects the keys configured with that kid; when none is,
        (or the token has no kid) the keys configured without a kid are tried.
        Only keys bound to the token's algorithm are ever returned.
        """
        same_alg = [k for k in self.keys if k.algorithm == algorithm]
        if kid is not None:
            named = tuple(k for k in same_alg if k.kid == kid)
            if named:
                return named
        return tuple(k for k in same_alg if k.kid is None or kid is None)


def load_keys(settings: JwtSettings, base_dir: Path, environ: Mapping[str, str]) -> KeyRing:
    """Resolve ``settings.keys``: read secrets from env vars and PEM public keys from files.

    Relative key files are resolved against ``base_dir`` (the config file's
    folder). Any problem raises ``KeyLoadError`` naming the key, the variable or
    the file, so the gateway refuses to start rather than reject every token.
    """
    return KeyRing(
        tuple(_load_one(i, key, base_dir, environ) for i, key in enumerate(settings.keys))
    )


def _load_one(
    index: int, key: JwtKey, base_dir: Path, environ: Mapping[str, str]
) -> VerificationKey:
    where = f"security.jwt.keys[{index}]" + (f" (kid {key.kid})" if key.kid else "")
    alg = key.algorithm
    if alg not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS:
        allowed = ", ".join(sorted(HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS))
        raise KeyLoadError(f"{where}: algorithm {alg!r} is not supported; use one of {allowed}")
    if (key.secret_env is None) == (key.public_key_file is None):
        raise KeyLoadError(f"{where}: give exactly one of secret_env or public_key_file")
    if alg in HMAC_ALGORITHMS:
        if key.secret_env is None:
            raise KeyLoadError(f"{where}: {alg} is an HMAC algorithm and needs secret_env")
        material: bytes | PublicKey = _secret(where, key.secret_env, environ)
        source = f"environment variable {key.secret_env}"
    else:
        if key.public_key_file is None:
            raise KeyLoadError(f"{where}: {alg} needs public_key_file (a PEM public key)")
        path = key.public_key_file
        path = path if path.is_absolute() else (base_dir / path).resolve()
        material = _public_key(where, path)
        source = f"file {path}"
    _check_fits(where, alg, material, source)
    return VerificationKey(algorithm=alg, material=material, kid=key.kid, source=source)


def _secret(where: str, name: str, environ: Mapping[str, str]) -> bytes:
    value = environ.get(name)
    if value is None:
        raise KeyLoadError(f"{where}: environment variable {name} is not set")
    if not value:
        raise KeyLoadError(f"{where}: environment variable {name} is empty")
    return value.encode("utf-8")


def _public_key(where: str, path: Path) -> PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"{where}: cannot read public key file {path}: {exc.strerror}") from exc
    try:
        # load_pem_public_key refuses private keys: a private key has no place here.
        loaded = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"{where}: {path} does not hold a PEM public key") from exc
    if not isinstance(loaded, PublicKey):
        raise KeyLoadError(f"{where}: {path} holds a {type(loaded).__name__}, not an RSA/EC/Ed key")
    return loaded


def _check_fits(where: str, alg: str, material: bytes | PublicKey, source: str) -> None:
    algorithm = PyJWS().get_algorithm_by_name(alg)
    try:
        prepared = algorithm.prepare_key(material)
    except (PyJWTError, TypeError, ValueError) as exc:
        raise KeyLoadError(f"{where}: the key in {source} cannot be used with {alg}") from exc
    # RFC 7518 section 3.2 (HMAC) and NIST SP 800-131A (RSA): refuse weak keys at start-up.
    too_weak = algorithm.check_key_length(prepared)
    if too_weak:
        raise KeyLoadError(f"{where}: the key in {source} is too weak: {too_weak}")
