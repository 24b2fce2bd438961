"""rolecall's changes to moto's cognito-idp: role claims in ID tokens, and global sign-out.

moto 5.2.5 mints ID tokens without `cognito:roles` / `cognito:preferred_role`
and forgets ID tokens at sign-out (it only revokes refresh and access tokens).
Identity pools need both (SPEC G3-G7 for claims, E3 for ServerSideTokenCheck),
so `install` wraps two methods of moto's `CognitoIdpUserPool`:

- `create_jwt`: for ID tokens, the group claims come from `claims.id_token_claims`.
  Access tokens are left as moto makes them: they never carry role claims (G8).
- `sign_out` (behind GlobalSignOut and AdminUserGlobalSignOut): the ids (`jti`)
  of the ID tokens issued to that user so far are recorded as revoked. Tokens
  minted after the sign-out have new ids, so they keep working.
- `CognitoIdpBackend.update_user_attributes` (UpdateUserAttributes with the
  user's own access token): the app client's WriteAttributes are enforced, as
  AWS does ("A client attempted to write unauthorized attribute", aws/aws-sdk-js
  #1319); moto lets any attribute through. A rule keyed on an attribute users
  can write is an escalation path, so the difference matters.
- the signing key: moto parses the same private key (its resource jwks-private.json)
  for every user pool it creates, about 45 ms of RSA key checks each, a tenth of the
  embedded target's time in a matrix run (py-spy); the parsed key is kept and shared,
  as the key itself already is.

moto's backends are process-global, so the revocation record is too; the
patch finds the emulator serving the request (for its faults) through
`state.CURRENT`, and behaves faithfully when there is none.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from moto.cognitoidp import models as moto_models
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool, cognitoidp_backends

from rolecall.emulator.cognitoidp.claims import GroupInfo, id_token_claims
from rolecall.emulator.cognitoidp.exceptions import unauthorized_attribute
from rolecall.emulator.faults import Faults
from rolecall.emulator.state import ACCOUNT_ID, CURRENT, EmulatorState

_PATCHED = "_rolecall_patched"
_lock = threading.Lock()
# user pool id -> jti of every ID token issued before a global sign-out of its user
_revoked: dict[str, set[str]] = {}


def install(state: EmulatorState) -> None:
    """Patch moto once per process; later calls (one per emulator) change nothing."""
    with _lock:
        if getattr(CognitoIdpUserPool.create_jwt, _PATCHED, False):
            return
        CognitoIdpUserPool.create_jwt = _with_role_claims(CognitoIdpUserPool.create_jwt)  # type: ignore[method-assign]
        CognitoIdpUserPool.sign_out = _recording_sign_out(CognitoIdpUserPool.sign_out)  # type: ignore[method-assign]
        CognitoIdpBackend.update_user_attributes = _client_write_attributes(  # type: ignore[method-assign]
            CognitoIdpBackend.update_user_attributes)
        moto_models.jwk = _KeysParsedOnce(moto_models.jwk)  # type: ignore[assignment]


def is_revoked(user_pool_id: str, jti: str) -> bool:
    """True when the ID token `jti` of that pool was issued before its user's global sign-out."""
    with _lock:
        return jti in _revoked.get(user_pool_id, set())


class _KeysParsedOnce:
    """joserfc's `jwk` module as moto's cognito-idp models see it, with each RSA key
    document parsed once: the key objects are only read (tokens are signed with them)."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._parsed: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    @property
    def RSAKey(self) -> Any:  # the attribute moto reads: jwk.RSAKey.import_key(...)
        return self

    def import_key(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(value, dict):
            return self._module.RSAKey.import_key(value, *args, **kwargs)
        document = json.dumps(value, sort_keys=True)
        with _lock:
            if document not in self._parsed:
                self._parsed[document] = self._module.RSAKey.import_key(value)
            return self._parsed[document]


def find_user_pool(region: str, user_pool_id: str) -> CognitoIdpUserPool | None:
    """moto's user pool, or None when it does not exist (any more)."""
    return cognitoidp_backends[ACCOUNT_ID][region].user_pools.get(user_pool_id)


def _faults() -> Faults:
    state = CURRENT.get(None)
    return state.faults if state is not None else Faults()


def _with_role_claims(create_jwt: Callable[..., tuple[str, int]]) -> Callable[..., tuple[str, int]]:
    @wraps(create_jwt)
    def patched(
        self: CognitoIdpUserPool,
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int = 60 * 60,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        if token_use == "id":
            extra_data = dict(extra_data or {})
            extra_data.pop("cognito:groups", None)  # moto's own list, in set order
            extra_data.update(id_token_claims(_groups_of(self, username), _faults()))
            if _faults().on("claims-token-use-wrong"):
                extra_data["token_use"] = "ID"
        return create_jwt(self, client_id, username, token_use, expires_in, extra_data)

    setattr(patched, _PATCHED, True)
    return patched


def _groups_of(pool: CognitoIdpUserPool, username: str) -> list[GroupInfo]:
    """The user's groups in the pool's creation order, so every choice is deterministic."""
    user = pool._get_user(username)
    if user is None:
        return []
    return [
        GroupInfo(group.group_name, group.role_arn or None, _precedence(group.precedence))
        for group in pool.groups.values()
        if group in user.groups
    ]


def _precedence(value: Any) -> int | None:
    """moto stores Precedence as the request gave it; only a number counts (G1)."""
    if isinstance(value, bool) or value is None:
        return None
    if not value and _faults().on("group-precedence-zero-dropped"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _recording_sign_out(sign_out: Callable[..., None]) -> Callable[..., None]:
    @wraps(sign_out)
    def patched(self: CognitoIdpUserPool, username: str) -> None:
        user = self._get_user(username)
        jtis = {
            _jti(token)
            for token, (_, token_user) in list(self.id_tokens.items())
            if user is not None and self._get_user(token_user) is user
        }
        with _lock:
            _revoked.setdefault(self.id, set()).update(jti for jti in jtis if jti)
        sign_out(self, username)

    return patched


def _jti(token: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    return str(claims.get("jti", ""))


def _client_write_attributes(update: Callable[..., None]) -> Callable[..., None]:
    @wraps(update)
    def patched(self: CognitoIdpBackend, access_token: str, attributes: list[dict[str, str]]) -> None:
        for pool in self.user_pools.values():
            if access_token in pool.access_tokens:
                client_id, _ = pool.access_tokens[access_token]
                client = pool.clients.get(client_id)
                writable = client.extended_config.get("WriteAttributes") if client else None
                names = {attribute["Name"] for attribute in attributes}
                if writable is not None and not names <= set(writable):
                    raise unauthorized_attribute()
        update(self, access_token, attributes)

    return patched
