"""The one redaction every writer of the suite goes through (ARCHITECTURE rule 4).

Evidence files, Allure results and attachments, JUnit failure text and printed
messages all pass through `redact` before they leave memory, so a secret has
exactly one place to be caught and one test to prove it is. Three layers:

- by value: every secret the run creates or receives (user passwords, ID, access
  and OIDC tokens, access key ids, secret keys, session tokens, the run's secret
  key) is registered where it appears (rolecall/account/provision.py, flows.py,
  tokens.py, in each process, xdist workers too) and replaced wherever it occurs,
  whatever it looks like;
- by name: a mapping key that names a secret (SecretKey, SecretAccessKey,
  SessionToken, Password, IdToken, AccessToken, RefreshToken, Token, ...) has its
  value blanked whatever the value looks like;
- by shape: in any text, JWTs (ID, access and OIDC tokens), temporary and
  long-term access key ids, secret keys, session tokens and passwords are
  replaced, and 12-digit account ids are masked to their last four digits.

Shapes still catch what was never registered (another process's secret, a value
a library logs on its own); the value registry catches what no shape can tell
from an identifier (a secret key with no digit in it). The shape rules are
deliberately a little greedy: over-redacting a random-looking
identifier in a report costs nothing, leaking a session token costs the account.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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


# --- by value: the registry ----------------------------------------------------------------

T = TypeVar("T")
MIN_REGISTERED = 8  # shorter values ("x", the emulator's dummy admin secret) would blank words
FRAGMENT_MIN = 8  # the shortest piece of a cut secret that is still redacted
ELLIPSIS = "..."
SEEN_MAX = 20_000  # redacted strings remembered (a few MB at most)
_STOP = frozenset(" \t\r\n'\"")  # where a shortened value in a repr begins or ends


class _Registry:
    """The secrets this process has seen; at each position the longest one that starts
    there is replaced, so none is half-replaced.

    pytest shortens long values in `-l` locals and assertion text to `head...tail`
    (saferepr), cutting a secret in two; the halves are found by the secret's first
    and last FRAGMENT_MIN characters, so a cut secret is as redacted as a whole one.
    """

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}
        self._heads: dict[str, list[str]] = {}
        self._tails: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        # redact_text's answers while no secret is added (emptied by add and clear)
        self.seen: dict[str, str] = {}

    def add(self, value: str, label: str) -> None:
        with self._lock:
            if value in self._labels:
                return
            self._labels[value] = label
            self.seen = {}
            self._heads.setdefault(value[:FRAGMENT_MIN], []).append(value)
            self._tails.setdefault(value[-FRAGMENT_MIN:], []).append(value)

    def replace(self, text: str) -> str:
        if self._heads and len(text) >= FRAGMENT_MIN:
            text = self._whole_secrets(text)
        if ELLIPSIS in text and self._heads:
            text = self._cut_secrets(text)
        return text

    def _whole_secrets(self, text: str) -> str:
        """Left to right, the longest registered secret that starts at each position.

        One dict lookup per position of the text, found by the secret's first
        FRAGMENT_MIN characters (every secret has that many). A substring search per
        registered secret instead cost a tenth of a whole matrix run: the registry holds
        thousands of secrets by its end, and every string of every record is redacted.
        """
        pieces: list[str] = []
        heads, at, copied, last_start = self._heads, 0, 0, len(text) - FRAGMENT_MIN
        while at <= last_start:
            owners = heads.get(text[at:at + FRAGMENT_MIN])
            found = max((v for v in owners if text.startswith(v, at)), key=len,
                        default=None) if owners else None
            if found is None:
                at += 1
                continue
            pieces += [text[copied:at], f"[REDACTED:{self._labels[found]}]"]
            at = copied = at + len(found)
        return "".join([*pieces, text[copied:]]) if pieces else text

    def _cut_secrets(self, text: str) -> str:
        """Redact the halves of secrets shortened to `head...tail`, at every `...` (a JWT cut
        before one of its dots makes `....`, so each position is tried)."""
        spans: list[tuple[int, int, str]] = []
        at = text.find(ELLIPSIS)
        while at != -1:
            spans += self._halves(text, at)
            at = text.find(ELLIPSIS, at + 1)
        merged: list[tuple[int, int, str]] = []
        for start, end, label in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
            else:
                merged.append((start, end, label))
        for start, end, label in reversed(merged):
            text = f"{text[:start]}[REDACTED:{label}]{text[end:]}"
        return text

    def _halves(self, text: str, at: int) -> list[tuple[int, int, str]]:
        """Spans of a secret's head ending at `at` and of a secret's tail starting after `...`."""
        found: list[tuple[int, int, str]] = []
        start = at
        while start > 0 and text[start - 1] not in _STOP:
            start -= 1
        for begin in range(start, at - FRAGMENT_MIN + 1):  # the longest head first
            piece = text[begin:at]
            owner = next((v for v in self._heads.get(piece[:FRAGMENT_MIN], ())
                          if v.startswith(piece)), None)
            if owner is not None:
                found.append((begin, at, self._labels[owner]))
                break
        after = end = at + len(ELLIPSIS)
        while end < len(text) and text[end] not in _STOP:
            end += 1
        for stop in range(end, after + FRAGMENT_MIN - 1, -1):  # the longest tail first
            piece = text[after:stop]
            owner = next((v for v in self._tails.get(piece[-FRAGMENT_MIN:], ())
                          if v.endswith(piece)), None)
            if owner is not None:
                found.append((after, stop, self._labels[owner]))
                break
        return found

    def clear(self) -> None:
        with self._lock:
            self._labels.clear()
            self.seen = {}
            self._heads.clear()
            self._tails.clear()


_REGISTRY = _Registry()


def register_secret(value: T, label: str = "secret") -> T:
    """From now on, `value` is redacted wherever this process writes it; returns it.

    Call it where a secret is obtained (a sign-in, a credential exchange, a derived
    password). Values shorter than MIN_REGISTERED and non-strings are ignored.
    """
    if isinstance(value, str) and len(value) >= MIN_REGISTERED:
        _REGISTRY.add(value, label)
    return value


def forget_secrets() -> None:
    """Empty the registry (tests)."""
    _REGISTRY.clear()


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
    """Replace every registered secret, then every secret-shaped run (longest shapes first).

    Records repeat their strings (keys, ids, verdicts, ARNs): each is redacted once per
    state of the registry and remembered until the next secret is registered (a cell
    record's hundred strings cost a fifth of a worker's time before)."""
    seen = _REGISTRY.seen
    done = seen.get(text)
    if done is None:
        if len(seen) > SEEN_MAX:
            seen.clear()
        done = seen[text] = _redact_text(text)
    return done


def _redact_text(text: str) -> str:
    text = _REGISTRY.replace(text)
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


# --- logs: every record redacted as it is made ------------------------------------------------

def redact_log_records() -> None:
    """Make every log record of this process redacted at creation, for every handler.

    pytest's captured logs, live logging, log files and any other handler then only
    ever see the redacted message and traceback. Installed once per process.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "rolecall_redacting", False):
        return

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return record
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return record

    make.rolecall_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)
