"""Redaction, secret kind by secret kind, by shape and by registered value: every writer
relies on this one function."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolecall.reporting.redact import (
    forget_secrets,
    is_secret_key,
    mask_account,
    redact,
    redact_bytes,
    redact_log_records,
    redact_text,
    register_secret,
)

JWT = ("eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJhYmMiLCJ0b2tlbl91c2UiOiJpZCJ9."
       "c2lnbmF0dXJlX3NpZ25hdHVyZV9zaWduYXR1cmU")
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_SESSION = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + "x7Rk2Zq" * 20
OLD_SESSION = "FwoGZXIvYXdzEBYaDHhZ" + "Ab9Cd0Ef1Gh2" * 10

# (what, text with the secret, the secret that must be gone, what must stay)
CASES = [
    ("ID token", f"Logins={{'cognito-idp...': '{JWT}'}}", JWT, "Logins="),
    ("JWE refresh token", "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.aGVsbG8.d29ybGQ.Zm9v.YmFy",
     "aGVsbG8.d29ybGQ", ""),
    ("temporary access key id", "key ASIAQ3EGV5ABCDEFGHIJ used", "ASIAQ3EGV5ABCDEFGHIJ", " used"),
    ("long-term access key id", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", ""),
    ("AWS secret key", f"secret {AWS_SECRET} end", AWS_SECRET, " end"),
    ("AWS session token", f"token: {AWS_SESSION}", AWS_SESSION[:40], "token"),
    ("old session token", OLD_SESSION, OLD_SESSION[:30], ""),
    ("password field", '{"PASSWORD": "hunter2-Secret!"}', "hunter2-Secret!", "PASSWORD"),
    ("password assignment", "password=s3cr3t&user=bob", "s3cr3t", "user=bob"),
    ("rolecall user password", "Rc!0123456789abcdef01234567aA1", "0123456789abcdef01234567", ""),
    ("account id in an ARN", "arn:aws:iam::123456789012:role/rc-1-x", "123456789012",
     "arn:aws:iam::********9012:role/rc-1-x"),
    ("account id alone", "account 210987654321.", "210987654321", "********4321"),
]


@pytest.mark.parametrize(("what", "text", "secret", "kept"), CASES, ids=[c[0] for c in CASES])
def test_every_secret_kind_is_redacted(what: str, text: str, secret: str, kept: str) -> None:
    out = redact_text(text)
    assert secret not in out, f"{what} leaked: {out}"
    assert kept in out
    assert "REDACTED" in out or "********" in out


def _emulator_secret_cases() -> list[tuple[str, str]]:
    """The shapes rolecall/emulator/state.py issues: random per run, like AWS's."""
    return [(secrets.token_urlsafe(30), "secret-key"),
            ("IQoJ" + secrets.token_urlsafe(120), "session-token"),
            ("ASIA" + secrets.token_hex(8).upper(), "access-key-id")]


@pytest.mark.parametrize("attempt", range(20))
def test_the_emulators_random_credentials_never_get_through(attempt: int) -> None:
    for secret, label in _emulator_secret_cases():
        out = redact_text(f"creds: {secret}, done")
        assert secret not in out and f"[REDACTED:{label}]" in out, out


@pytest.mark.parametrize("name", ["SecretKey", "SecretAccessKey", "SessionToken", "Password",
                                  "IdToken", "AccessToken", "RefreshToken", "Token",
                                  "session_token", "aws_secret_access_key", "PASSWORD"])
def test_keys_that_name_a_secret_are_blanked_whatever_their_value(name: str) -> None:
    assert is_secret_key(name)
    assert redact({name: "harmless-looking"}) == {name: "[REDACTED]"}


@pytest.mark.parametrize("name", ["token_use", "AccessKeyIdCount", "user", "observed_role",
                                  "request_ids", "expected"])
def test_ordinary_keys_keep_their_values(name: str) -> None:
    assert not is_secret_key(name)
    assert redact({name: "BooksReadAccess"}) == {name: "BooksReadAccess"}


def test_nested_structures_are_walked() -> None:
    credentials = {"Credentials": {"AccessKeyId": "ASIAQ3EGV5ABCDEFGHIJ", "SecretKey": "x" * 40,
                                   "SessionToken": AWS_SESSION},
                   "claims": [{"cognito:roles": ["arn:aws:iam::123456789012:role/r"]}],
                   "account": 123456789012, "count": 3, "ok": True, "none": None}
    out = redact(credentials)
    assert out == {"Credentials": {"AccessKeyId": "[REDACTED:access-key-id]",
                                   "SecretKey": "[REDACTED]", "SessionToken": "[REDACTED]"},
                   "claims": [{"cognito:roles": ["arn:aws:iam::********9012:role/r"]}],
                   "account": "********9012", "count": 3, "ok": True, "none": None}


@pytest.mark.parametrize("text", [
    "books-token-deny-enhanced-testuser1-Scan",  # a 40-character cell id
    "c25870483ecda6bffa19a7d8c70d2e9b7b23c40b",  # a git sha
    "7f75b9dd8e9e64f488469289deefe2f47c753de669ec0985267415106a3f1410",  # a SHA-256
    "test_access[books-token-authrole-classic=BooksReadAccess-testuser1-TransactWriteItems]",
    "eu-west-1:4d5c1b8e-2a4f-4f1e-9d7a-0c6b2e8f1a3b", "1795318652121", "the password policy",
    "ALLOWED DENIED ERROR ISSUED(BooksReadAccess) REFUSED(AccessDenied)",
])
def test_what_is_not_a_secret_stays_readable(text: str) -> None:
    assert redact_text(text) == text


def test_masking_keeps_the_last_four_digits_and_is_idempotent() -> None:
    assert mask_account("123456789012") == "********9012"
    once = redact_text("arn:aws:sts::123456789012:assumed-role/r/s")
    assert redact_text(once) == once


def test_bytes_text_is_redacted_and_binary_is_left_alone() -> None:
    assert b"123456789012" not in redact_bytes(b"account 123456789012")
    png = b"\x89PNG\r\n\x1a\n\xff\xfe123456789012"
    assert redact_bytes(png) == png


# --- by value: the registry -------------------------------------------------------------------


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NO_DIGIT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz/+"
SECRET_KEYS = st.text(alphabet=B64URL + "/+", min_size=40, max_size=40)
DIGITLESS_KEYS = st.text(alphabet=NO_DIGIT, min_size=40, max_size=40)  # what shapes let through
ACCESS_KEY_IDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16,
                         max_size=16).map(lambda s: "ASIA" + s)
SESSION_TOKENS = st.text(alphabet=B64URL + "/+", min_size=100, max_size=400).map(lambda s: "IQoJ" + s)
JWTS = st.tuples(*[st.text(alphabet=B64URL, min_size=8, max_size=200)] * 3).map(
    lambda p: "eyJ" + ".".join(p))
PASSWORDS = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24).map(
    lambda h: f"Rc!{h}aA1")
PRINTABLE = st.characters(blacklist_characters="[]:", blacklist_categories=["Cs"])
ANY_VALUE = st.text(alphabet=PRINTABLE, min_size=8, max_size=80).filter(
    lambda v: v not in "[REDACTED:secret-key]")  # a value the label itself spells is not news
SECRETS = st.one_of(SECRET_KEYS, DIGITLESS_KEYS, ACCESS_KEY_IDS, SESSION_TOKENS, JWTS, PASSWORDS,
                    ANY_VALUE)
CONTEXT = st.text(alphabet=PRINTABLE, max_size=60)
QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(secret=SECRETS, before=CONTEXT, after=CONTEXT)
def test_a_registered_secret_is_redacted_whatever_it_looks_like(secret: str, before: str,
                                                                after: str) -> None:
    forget_secrets()
    register_secret(secret, "secret-key")
    out = redact_text(f"{before}{secret}{after}")
    assert secret not in out
    assert redact({"note": [f"x {secret} y"]})["note"][0].count(secret) == 0


@QUICK
@given(secret=DIGITLESS_KEYS)
def test_a_digitless_secret_key_passes_shapes_but_not_the_registry(secret: str) -> None:
    forget_secrets()
    register_secret(secret, "secret-key")
    assert redact_text(f"SecretKey: {secret}.") == "SecretKey: [REDACTED:secret-key]."


@QUICK
@given(registered=SECRET_KEYS, key_id=ACCESS_KEY_IDS, session=SESSION_TOKENS, token=JWTS)
def test_shapes_still_catch_what_was_never_registered(registered: str, key_id: str, session: str,
                                                      token: str) -> None:
    forget_secrets()
    register_secret(registered, "secret-key")
    out = redact_text(f"{registered} {key_id} {session} {token}")
    for secret in (registered, key_id, session, token):
        assert secret not in out


@QUICK
@given(secret=SECRET_KEYS.filter(lambda s: sum(c.isdigit() for c in s) > 0
                                 and any(c.isupper() for c in s) and any(c.islower() for c in s)
                                 and len(set(s)) >= 20))
def test_an_unregistered_random_secret_key_is_still_caught_by_its_shape(secret: str) -> None:
    forget_secrets()
    assert secret not in redact_text(f"key {secret} end")


def test_short_values_and_non_strings_are_not_registered() -> None:
    forget_secrets()
    register_secret("x", "secret-key")
    register_secret(None, "secret-key")
    assert redact_text("x marks the spot") == "x marks the spot"


def test_log_records_are_redacted_for_every_handler(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    forget_secrets()
    secret = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"  # no digit: no shape catches it
    register_secret(secret, "secret-key")
    redact_log_records()
    try:
        raise ValueError(f"bad key {secret}")
    except ValueError:
        logging.getLogger("rolecall.test").exception("credentials %s", {"k": secret})
    assert secret not in caplog.text and "[REDACTED:secret-key]" in caplog.text
    forget_secrets()


@QUICK
@given(secret=st.one_of(SECRET_KEYS, DIGITLESS_KEYS, SESSION_TOKENS, JWTS),
       cut=st.tuples(st.integers(8, 60), st.integers(8, 60)))
def test_a_secret_cut_short_by_pytest_is_still_redacted(secret: str, cut: tuple[int, int]) -> None:
    """saferepr shows long values as head...tail; neither half may survive."""
    forget_secrets()
    register_secret(secret, "secret-key")
    head, tail = secret[:min(cut[0], len(secret) - 1)], secret[-min(cut[1], len(secret) - 1):]
    out = redact_text(f"logins = {{'k': '{head}...{tail}'}}")
    assert head not in out and tail not in out and out.count("[REDACTED:") == 2, out


def test_a_string_seen_before_its_secret_was_registered_is_redacted_after() -> None:
    """redact_text remembers its answers only until the next secret is registered."""
    secret = "remembered-" + secrets.token_hex(8)
    text = f"the session {secret} ended"
    assert redact_text(text) == text  # nothing registered yet: unchanged, and remembered
    register_secret(secret, "session-token")
    assert redact_text(text) == "the session [REDACTED:session-token] ended"
