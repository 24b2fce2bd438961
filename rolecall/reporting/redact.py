"""The one redaction every writer of the suite goes through (ARCHITECTURE rule 4).

Evidence files, Allure results and attachments, JUnit failure text and printed
messages all pass through `redact` before they leave memory, so a secret has
exactly one place to be caught and one test to prove it is. Two layers:

- by name: a mapping key that names a secret (SecretKey, SecretAccessKey,
  SessionToken, Password, IdToken, AccessToken, RefreshToken, Token, ...) has its
  value blanked whatever the value looks like;
- by shape: in any text, JWTs (ID, access and OIDC tokens), temporary and
  long-term access key ids, secret keys, session tokens and passwords are
  replaced, and 12-digit account ids are masked to their last four digits.

The shape rules are deliberately a little greedy: over-redacting a random-looking
identifier in a report costs nothing, leaking a session token costs the account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

BLANK = "[REDACTED]"
ACCOUNT_MASK = "********"

# Keys whose value is a secret, compared without case, '_' or '-'.
SECRET_KEY_NAMES = frozenset({
    "secretkey", "secretaccesskey", "awssecretaccesskey", "sessiontoken", "awssessiontoken",
    "password", "idtoken", "accesstoken", "refreshtoken", "token", "webidentitytoken",
    "openidtoken", "clientsecret", "secrethex", "secret",
})
SECRET_KEY_SUFFIXES = ("password", "secretkey", "secretaccesskey", "sessiontoken", "idtoken",
                       "accesstoken", "refreshtoken")

_B64 = r"A-Za-z0-9/+_\-"  # base64 and base64url alphabets together
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]+){1,4}")
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:ASIA|AKIA|AIDA|AROA)[A-Z0-9]{12,20}(?![A-Z0-9])")
# AWS session tokens start with these (base64 of protobuf framing); the emulator's too.
_SESSION_TOKEN = re.compile(rf"(?:IQoJ|FwoG|FQoG)[{_B64}]{{20,}}=*")
_LONG_BASE64 = re.compile(rf"(?<![{_B64}])[{_B64}]{{100,}}=*")
_SECRET_KEY = re.compile(rf"(?<![{_B64}])[{_B64}]{{40}}(?![{_B64}=])")
_PASSWORD_FIELD = re.compile(r"(?i)\b(password|passwd|pwd)\b(\s*[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}&<]+)")
# The passwords rolecall itself sets for scenario users (provision.RunSecrets.password).
_ROLECALL_PASSWORD = re.compile(r"Rc![0-9a-f]{24}aA1")
_ACCOUNT_ID = re.compile(r"(?<![A-Za-z0-9*])\d{12}(?![A-Za-z0-9])")


def _random_looking(text: str, min_distinct: int) -> bool:
    """Mixed case, a digit and many distinct characters: a key, not an identifier or a path."""
    return (len(set(text)) >= min_distinct and any(c.isdigit() for c in text)
            and any(c.isupper() for c in text) and any(c.islower() for c in text))


def _when_random(label: str, min_distinct: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        return f"[REDACTED:{label}]" if _random_looking(found, min_distinct) else found
    return replace


def mask_account(account_id: str) -> str:
    """`123456789012` -> `********9012`: enough to tell accounts apart, not to name one."""
    return ACCOUNT_MASK + account_id[-4:]


def redact_text(text: str) -> str:
    """Replace every secret-shaped run in free text (order matters: longest shapes first)."""
    text = _JWT.sub("[REDACTED:jwt]", text)
    text = _SESSION_TOKEN.sub("[REDACTED:session-token]", text)
    text = _LONG_BASE64.sub(_when_random("session-token", 30), text)
    text = _ACCESS_KEY_ID.sub("[REDACTED:access-key-id]", text)
    text = _SECRET_KEY.sub(_when_random("secret-key", 20), text)
    text = _ROLECALL_PASSWORD.sub("[REDACTED:password]", text)
    text = _PASSWORD_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:password]", text)
    return _ACCOUNT_ID.sub(lambda m: mask_account(m.group(0)), text)


def is_secret_key(name: str) -> bool:
    """Does a mapping key name a secret (SecretKey, session_token, IdToken, Password ...)?"""
    norm = re.sub(r"[^a-z0-9]", "", name.lower())
    return norm in SECRET_KEY_NAMES or norm.endswith(SECRET_KEY_SUFFIXES)


def redact(value: Any) -> Any:
    """A redacted copy of `value`: strings, numbers, and nested mappings and sequences."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {redact_text(str(k)) if isinstance(k, str) else k:
                (BLANK if isinstance(k, str) and is_secret_key(k) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) == 12:
        return mask_account(str(value))
    return value


def redact_bytes(data: bytes) -> bytes:
    """Text files are redacted; binary ones (images) pass as they are, having no text to leak."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return redact_text(text).encode("utf-8")
