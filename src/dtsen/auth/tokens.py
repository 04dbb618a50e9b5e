"""Short-lived JWT access tokens for machine clients, signed with an ES256 key kept in data_dir.

Asymmetric so that other services (the data-sharing plane, an agency's gateway) can verify tokens from
the published JWKS (``/.well-known/jwks.json``) without holding anything that could mint one. The key is
generated once, like the secret key, into ``data_dir/.jwt_signing_key.pem`` (mode 0600); its ``kid`` is
the RFC 7638 thumbprint of the public key, so rotating the key changes the ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dtsen.config import get_settings

ALGORITHM = "ES256"
ISSUER = "dtsen"
AUDIENCE = "dtsen-api"
KEY_FILE = ".jwt_signing_key.pem"
LEEWAY_SECONDS = 0
# Tokens whose signature, issuer and audience were checked, kept per process so that a client's next
# request with the same token skips the ES256 verification (the JWT check was ~0.5 ms of CPU a request;
# docs/benchmarks.md, DCI section). Expiry and not-before are checked on every use.
VERIFIED_CACHE_SIZE = 4096


class TokenError(Exception):
    """A token that must be refused; ``error`` is the OAuth2 code (RFC 6750), ``description`` says why."""

    def __init__(self, description: str, error: str = "invalid_token") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        jwk = cast(dict[str, str], json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.public_key)))
        # RFC 7638 thumbprint: the required members in lexicographic order, no whitespace.
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}

    @cached_property
    def kid(self) -> str:
        """Worked out once per key: it names the key in every token and in the verified-token cache."""
        return self.public_jwk()["kid"]

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key in ``path``; generated and written (mode 0600, never overwritten) on first use."""
        if not path.exists():
            key = cls.generate()
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                return cls.load_or_create(path)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            return key
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: not an EC private key")
        return cls(loaded)


@cache
def _key_at(path: Path) -> SigningKey:
    return SigningKey.load_or_create(path)


def signing_key_of(app: Any | None = None) -> SigningKey:
    """The app's key (``app.state.signing_key``), else the one in the configured data_dir."""
    if app is not None:
        key = getattr(app.state, "signing_key", None)
        if isinstance(key, SigningKey):
            return key
    return _key_at((get_settings().data_dir / KEY_FILE).resolve())


def jwks(key: SigningKey) -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.public_jwk()]}


def issue_token(
    key: SigningKey,
    *,
    subject: str,
    role: str,
    scopes: frozenset[str],
    regions: tuple[str, ...],
    now: datetime,
    lifetime_seconds: int,
    audience: str = AUDIENCE,
) -> tuple[str, dict[str, Any]]:
    """A signed access token and its claims."""
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_seconds,
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(sorted(scopes)),
        "role": role,
        "regions": list(regions),
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, claims


class _VerifiedTokens:
    """A bounded LRU map (key id, audience, token) -> claims, shared by a process's threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._claims: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        with self._lock:
            claims = self._claims.get(key)
            if claims is not None:
                self._claims.move_to_end(key)
            return claims

    def put(self, key: tuple[str, str, str], claims: dict[str, Any]) -> None:
        with self._lock:
            self._claims[key] = claims
            self._claims.move_to_end(key)
            while len(self._claims) > self.size:
                self._claims.popitem(last=False)


_VERIFIED = _VerifiedTokens(VERIFIED_CACHE_SIZE)


def verify_token(token: str, key: SigningKey, *, now: datetime, audience: str = AUDIENCE) -> dict[str, Any]:
    """The claims of a valid token; :class:`TokenError` for a bad signature, wrong algorithm, issuer or
    audience, an expired or not-yet-valid token, or missing claims. Time is the caller's clock.

    A token once verified with ``key`` is remembered (:data:`VERIFIED_CACHE_SIZE` per process, keyed by
    the key's id, so a rotated key verifies afresh); its expiry and not-before are checked on every call.
    Refused tokens are never remembered. Whether the client is still active is the caller's check, made
    on every request."""
    cache_key = (key.kid, audience, token)
    claims = _VERIFIED.get(cache_key)
    if claims is None:
        claims = _verified_claims(token, key, audience)
        _VERIFIED.put(cache_key, claims)
    # Expiry against the injected clock (PyJWT would use the system clock).
    moment = now.timestamp()
    if moment >= claims["exp"] + LEEWAY_SECONDS:
        raise TokenError("token kedaluwarsa (expired)")
    if isinstance(claims.get("nbf"), int | float) and moment < claims["nbf"] - LEEWAY_SECONDS:
        raise TokenError("token belum berlaku (not yet valid)")
    return dict(claims)


def _verified_claims(token: str, key: SigningKey, audience: str) -> dict[str, Any]:
    """Everything about a token that does not depend on the time: signature, algorithm, issuer,
    audience and the claims' shape."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("token tidak dapat dibaca (malformed)") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algoritme token harus {ALGORITHM}")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={
                "require": ["iss", "aud", "sub", "exp", "iat", "jti", "scope", "role"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError("tanda tangan token tidak sah (invalid signature)") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("audiens token salah (wrong audience)") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("penerbit token salah (wrong issuer)") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"token tidak sah: {exc}") from exc
    if not isinstance(claims.get("exp"), int | float) or isinstance(claims.get("exp"), bool):
        raise TokenError("token kedaluwarsa (expired)")
    if not isinstance(claims.get("regions", []), list):
        raise TokenError("klaim regions tidak sah")
    return dict(claims)
