"""Broken ID tokens, as an attacker or a buggy client would present them (SPEC E2).

Both keep the token's header (so the `kid` still names the pool's real key) and
change only what the case is about: `tampered` edits the payload and keeps the
original signature; `resigned` keeps the payload and signs it with a key the
pool never published. pyjwt and cryptography do the encoding and signing.
`misigned` makes the tokens a careless verifier accepts: alg none, HS256 keyed
with the pool's public key (algorithm confusion), and a key carried in the header.
All are login tokens the run creates, so all are registered for redaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from rolecall.reporting.redact import register_secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """The payload, unverified: only for reading `exp` or building a broken copy."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


def tampered(token: str, **changes: Any) -> str:
    """The same token with payload claims changed and the original signature kept."""
    header, _, signature = token.split(".")
    payload = {**claims_of(token), **changes}
    return register_secret(".".join([header, _b64(json.dumps(payload, separators=(",", ":"))
                                                  .encode()), signature]), "id-token")


def resigned(token: str) -> str:
    """The same header and payload, signed RS256 with a fresh key the pool never published."""
    header = jwt.get_unverified_header(token)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return register_secret(jwt.encode(claims_of(token), key, algorithm="RS256",
                                      headers={"kid": header.get("kid", "")}), "id-token")


def misigned(token: str, case: str, public_pem: bytes) -> str:
    """The same payload, signed as the pool never signs (pool signs RS256 with its JWKS key).

    `alg-none`: no signature; `hs256`: HMAC-SHA256 keyed with the pool's public key PEM;
    `embedded-jwk`: RS256 with a fresh key whose public half rides in the header's `jwk`.
    """
    return register_secret(_misigned(token, case, public_pem), "id-token")


def _misigned(token: str, case: str, public_pem: bytes) -> str:
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k != "alg"}
    body = _b64(json.dumps(claims_of(token), separators=(",", ":")).encode())
    if case == "alg-none":
        head = _b64(json.dumps({**header, "alg": "none"}, separators=(",", ":")).encode())
        return f"{head}.{body}."
    if case == "hs256":
        head = _b64(json.dumps({**header, "alg": "HS256"}, separators=(",", ":")).encode())
        mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(mac)}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return jwt.encode(claims_of(token), key, algorithm="RS256", headers={**header, "jwk": jwk})
