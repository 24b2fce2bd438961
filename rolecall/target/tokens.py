"""Broken ID tokens, as an attacker or a buggy client would present them (SPEC E2).

Both keep the token's header (so the `kid` still names the pool's real key) and
change only what the case is about: `tampered` edits the payload and keeps the
original signature; `resigned` keeps the payload and signs it with a key the
pool never published. pyjwt and cryptography do the encoding and signing. Both
are login tokens the run creates, so both are registered for redaction.
"""

from __future__ import annotations

import base64
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
