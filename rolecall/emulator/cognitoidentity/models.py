"""Identity pools: their configuration and their identities (the backend).

This is rolecall's own cognito-identity service (moto's is a stub that accepts
any token and hands out fixed credentials). It reads like a moto backend: one
`CognitoIdentityBackend` per region holds the pools and identities, and each
public method is one API operation. `responses.py` turns the wire into the
typed arguments these methods take; the rules each operation applies live in
their own modules:

- P1-P3  pool configuration (here); RoleMappings and their validation (`mapping.py`)
- E1, E4 GetId: one identity per (pool, login subject); guests (here)
- E14    an identity answers only its own logins (here)
- E2, E3 checked login tokens (`logins.py`)
- E5-E10 role choice (`mapping.py`); E11 trust (`trust.py`); E13 the session (here)
- A1-A3  principal tags: the map per provider and the session's tags (`principal_tags.py`),
         sts:TagSession in the trust policy (`trust.py`)
- C1-C3  GetOpenIdToken's classic-flow gates (here); C4 the OIDC token (`oidc.py`)
- errors and their texts: `exceptions.py`

Like moto's backends, the state is process-global (a faulty emulator started
next to the faithful one sees the same pools), and every fault is checked at
the exact line it bends.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rolecall.emulator.cognitoidentity.exceptions import (
    CLASSIC_DISABLED,
    CLASSIC_WITH_MAPPINGS,
    IDENTITY_FORBIDDEN,
    LOGINS_DONT_MATCH,
    NOT_A_CONFIGURED_PROVIDER,
    UNAUTH_NOT_SUPPORTED,
    invalid_parameter,
    not_authorized,
    not_found,
)
from rolecall.emulator.cognitoidentity.logins import VerifiedLogin, verify_login
from rolecall.emulator.cognitoidentity.mapping import (
    authenticated_role,
    guest_role,
    validate_mapping,
)
from rolecall.emulator.cognitoidentity.oidc import OIDC_TOKEN_SECONDS, mint_open_id_token
from rolecall.emulator.cognitoidentity.pools import (
    Identity,
    IdentityPool,
    PoolSettings,
    PrincipalTagMap,
    RoleMapping,
)
from rolecall.emulator.cognitoidentity.principal_tags import (
    get_map,
    session_tags,
    set_map,
    tag_context,
)
from rolecall.emulator.cognitoidentity.trust import check_tag_session, check_trust, trust_context
from rolecall.emulator.faults import Faults
from rolecall.emulator.state import EmulatorState

CREDENTIALS_SECONDS = 3600  # E13
SESSION_NAME = "CognitoIdentityCredentials"  # E13: the session name in the assumed-role ARN


@dataclass(frozen=True)
class Grant:
    """What GetCredentialsForIdentity decided: the role, its narrowing, its context (with the
    session's principal tags as aws:PrincipalTag/<key>)."""

    role_arn: str
    session_policies: list[dict[str, Any]]
    context: dict[str, list[str]]


class CognitoIdentityBackend:
    """Identity pools and identities of one region."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.pools: dict[str, IdentityPool] = {}
        self.identities: dict[str, Identity] = {}
        # (pool id, provider name, subject) -> identity id: E1's stable ids
        self._by_login: dict[tuple[str, str, str], str] = {}
        self._lock = threading.RLock()

    # -- pools ---------------------------------------------------------------

    def create_identity_pool(self, settings: PoolSettings, tags: dict[str, str]) -> IdentityPool:
        pool_id = f"{self.region}:{uuid.uuid4()}"
        pool = IdentityPool(pool_id, self.region, settings, dict(tags))
        with self._lock:
            self.pools[pool_id] = pool
        return pool

    def describe_identity_pool(self, pool_id: str) -> IdentityPool:
        with self._lock:
            pool = self.pools.get(pool_id)
        if pool is None:
            raise not_found(f"IdentityPool '{pool_id}' not found.")
        return pool

    def update_identity_pool(self, pool_id: str, settings: PoolSettings,
                             tags: dict[str, str] | None) -> IdentityPool:
        """Replace the whole configuration, as AWS does: what is not given is cleared."""
        with self._lock:
            pool = self.describe_identity_pool(pool_id)
            pool.settings = settings
            if tags is not None:
                pool.tags = dict(tags)
        return pool

    def delete_identity_pool(self, pool_id: str) -> None:
        with self._lock:
            self.describe_identity_pool(pool_id)
            del self.pools[pool_id]
            for identity_id in [i for i, v in self.identities.items()
                                if v.identity_pool_id == pool_id]:
                del self.identities[identity_id]
            for key in [k for k in self._by_login if k[0] == pool_id]:
                del self._by_login[key]

    def list_identity_pools(self, max_results: int,
                            next_token: str | None) -> tuple[list[IdentityPool], str | None]:
        with self._lock:
            pools = list(self.pools.values())
        return _page(pools, [p.identity_pool_id for p in pools], max_results, next_token)

    # -- tags ----------------------------------------------------------------

    def _pool_by_arn(self, arn: str) -> IdentityPool:
        with self._lock:
            pool = next((p for p in self.pools.values() if p.arn == arn), None)
        if pool is None:
            raise not_found(f"Resource '{arn}' not found.")
        return pool

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._pool_by_arn(arn).tags.update(tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            pool = self._pool_by_arn(arn)
            for key in keys:
                pool.tags.pop(key, None)

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        return dict(self._pool_by_arn(arn).tags)

    # -- roles (P2, P3) ------------------------------------------------------

    def set_identity_pool_roles(self, pool_id: str, roles: dict[str, str],
                                mappings: dict[str, RoleMapping]) -> None:
        """Validate everything first, then replace roles and mappings at once."""
        with self._lock:
            pool = self.describe_identity_pool(pool_id)
            accepted = pool.mapping_keys()
            for key, mapping in mappings.items():
                if key not in accepted:
                    raise invalid_parameter(NOT_A_CONFIGURED_PROVIDER.format(key=key))
                validate_mapping(key, mapping)
            pool.roles = dict(roles)
            pool.role_mappings = dict(mappings)

    def get_identity_pool_roles(self, pool_id: str) -> IdentityPool:
        return self.describe_identity_pool(pool_id)

    # -- attributes for access control (A1) ----------------------------------

    def set_principal_tag_attribute_map(self, pool_id: str, provider_name: str,
                                        use_defaults: bool,
                                        tags: dict[str, str]) -> PrincipalTagMap:
        with self._lock:
            return set_map(self.describe_identity_pool(pool_id), provider_name, use_defaults, tags)

    def get_principal_tag_attribute_map(self, pool_id: str, provider_name: str) -> PrincipalTagMap:
        with self._lock:
            return get_map(self.describe_identity_pool(pool_id), provider_name)

    # -- identities (E1-E4) --------------------------------------------------

    def get_id(self, state: EmulatorState, pool_id: str, logins: dict[str, str]) -> Identity:
        pool = self.describe_identity_pool(pool_id)
        verified = [verify_login(pool, name, token, state) for name, token in logins.items()]
        now = state.clock.now()
        with self._lock:
            if not verified:
                self._require_guests_allowed(pool, state.faults)
                # every guest GetId is a new identity
                return self._new_identity(pool_id, now, state.faults)
            existing = next((self._by_login[k] for k in self._login_keys(pool_id, verified)
                             if k in self._by_login), None)
            if state.faults.on("identity-id-new-per-call"):  # E1 broken: relink each time
                existing = None
                for key in self._login_keys(pool_id, verified):
                    self._by_login.pop(key, None)
            if state.faults.on("identity-id-shared"):
                existing = next((i.identity_id for i in self.identities.values()
                                 if i.identity_pool_id == pool_id and i.authenticated), existing)
            identity = self.identities[existing] if existing else \
                self._new_identity(pool_id, now, state.faults)
            self._link(identity, verified, now)
            return identity

    def describe_identity(self, identity_id: str) -> Identity:
        with self._lock:
            identity = self.identities.get(identity_id)
            if identity is None or identity.identity_pool_id not in self.pools:
                raise not_found(f"Identity '{identity_id}' not found.")
            return identity

    def list_identities(self, pool_id: str, max_results: int,
                        next_token: str | None) -> tuple[list[Identity], str | None]:
        self.describe_identity_pool(pool_id)
        with self._lock:
            identities = [i for i in self.identities.values() if i.identity_pool_id == pool_id]
        return _page(identities, [i.identity_id for i in identities], max_results, next_token)

    def _new_identity(self, pool_id: str, now: float, faults: Faults) -> Identity:
        """E1: `<region>:<uuid>`."""
        prefix = "" if faults.on("identity-id-no-region") else f"{self.region}:"
        identity = Identity(f"{prefix}{uuid.uuid4()}", pool_id, now, now)
        self.identities[identity.identity_id] = identity
        return identity

    @staticmethod
    def _login_keys(pool_id: str, logins: Sequence[VerifiedLogin]) -> list[tuple[str, str, str]]:
        return [(pool_id, login.provider_name, login.subject) for login in logins]

    def _link(self, identity: Identity, logins: Sequence[VerifiedLogin], now: float) -> None:
        for login in logins:
            key = (identity.identity_pool_id, login.provider_name, login.subject)
            if key not in self._by_login:
                self._by_login[key] = identity.identity_id
                identity.logins[login.provider_name] = login.subject
                identity.first_claims.setdefault(login.provider_name, dict(login.claims))
                identity.last_modified = now

    @staticmethod
    def _require_guests_allowed(pool: IdentityPool, faults: Faults) -> None:
        """E4: no Logins means a guest, and guests need AllowUnauthenticatedIdentities."""
        if not pool.settings.allow_unauthenticated \
                and not faults.on("guest-allowed-when-disabled"):
            raise not_authorized("Unauthenticated identities are disabled for this pool."
                                 if faults.on("text-unauth-wrong") else UNAUTH_NOT_SUPPORTED)

    def _login_for(self, state: EmulatorState, identity: Identity, logins: dict[str, str],
                   operation: str) -> tuple[IdentityPool, VerifiedLogin | None]:
        """The pool and the checked login for a call on an identity (None for a guest)."""
        pool = self.describe_identity_pool(identity.identity_pool_id)
        verified = [verify_login(pool, name, token, state) for name, token in logins.items()]
        with self._lock:
            if not verified:
                if identity.authenticated:
                    raise not_authorized(LOGINS_DONT_MATCH)
                self._require_guests_allowed(pool, state.faults)
                return pool, None
            self._check_binding(identity, verified, state.faults, operation)
            for key in self._login_keys(pool.identity_pool_id, verified):
                owner = self._by_login.get(key)
                linked = identity.logins.get(key[1])  # one login per provider per identity
                if (owner is not None and owner != identity.identity_id) or (
                        linked is not None and linked != key[2]):
                    if self._accepts_foreign(state.faults, operation):
                        return pool, verified[0]  # not linked: the token merely "works"
                    raise not_authorized(
                        IDENTITY_FORBIDDEN.format(identity_id=identity.identity_id))
            self._link(identity, verified, state.clock.now())
        return pool, verified[0]

    def _check_binding(self, identity: Identity, logins: Sequence[VerifiedLogin],
                       faults: Faults, operation: str) -> None:
        """E14: an authenticated identity answers only Logins that hold one of its own logins.

        Another user's valid token on it (an app that kept the previous user's identity
        id) is NotAuthorizedException "Logins don't match ..." (field: amplify-js #4101),
        checked before anything is linked: the identity keeps its logins, and the other
        user's login stays with that user's own identity (GetId answers it unchanged).
        An unauthenticated identity has no login to match; a login already linked
        elsewhere is refused on it by the loop after this check (IDENTITY_FORBIDDEN).
        """
        if not identity.authenticated or any(
                identity.logins.get(login.provider_name) == login.subject for login in logins):
            return
        if self._accepts_foreign(faults, operation):
            return
        if faults.on("identity-refused-login-relinked"):  # linked first, then refused
            self._move_logins(identity, logins)
        raise not_authorized(IDENTITY_FORBIDDEN.format(identity_id=identity.identity_id)
                             if faults.on("text-logins-dont-match-wrong") else LOGINS_DONT_MATCH)

    @staticmethod
    def _accepts_foreign(faults: Faults, operation: str) -> bool:
        """The faults that let another user's token work on an identity (E14 broken)."""
        return faults.on("identity-foreign-login-accepted") or (
            operation == "GetOpenIdToken" and faults.on("openid-foreign-login-accepted"))

    def _move_logins(self, identity: Identity, logins: Sequence[VerifiedLogin]) -> None:
        """Re-link these logins to `identity`, taking them from whichever identity held them."""
        for login in logins:
            key = (identity.identity_pool_id, login.provider_name, login.subject)
            owner = self.identities.get(self._by_login.get(key, ""))
            if owner is not None and owner is not identity:
                owner.logins.pop(login.provider_name, None)
            self._by_login[key] = identity.identity_id
            identity.logins[login.provider_name] = login.subject

    # -- credentials (E5-E13) and the classic flow (C1-C4) -------------------

    def get_credentials_for_identity(self, state: EmulatorState, identity_id: str,
                                     logins: dict[str, str],
                                     custom_role_arn: str | None) -> Grant:
        identity = self.describe_identity(identity_id)
        pool, login = self._login_for(state, identity, logins, "GetCredentialsForIdentity")
        faults = state.faults
        context = trust_context(pool.identity_pool_id, identity_id, login)
        if login is None:  # E5: a guest
            role_arn, policies = guest_role(pool, faults)
        else:
            role_arn, policies = authenticated_role(pool, login, custom_role_arn, faults), []
        check_trust(role_arn, context, faults)
        tags = session_tags(pool, login, identity, faults)  # A2: enhanced flow only
        check_tag_session(role_arn, context, tags, faults)  # A3
        return Grant(role_arn, policies, {**context, **tag_context(tags)})

    def get_open_id_token(self, state: EmulatorState, identity_id: str,
                          logins: dict[str, str]) -> str:
        identity = self.describe_identity(identity_id)
        pool = self.describe_identity_pool(identity.identity_pool_id)
        faults = state.faults
        classic_off = pool.settings.allow_classic_flow is False or (
            pool.settings.allow_classic_flow is None and faults.on("classic-unset-as-false"))
        if classic_off and not faults.on("classic-gate-ignored"):
            # C1; unset is allowed (C2)
            raise invalid_parameter(CLASSIC_WITH_MAPPINGS if faults.on("text-classic-disabled-wrong")
                                    else CLASSIC_DISABLED)
        if pool.role_mappings and not faults.on("classic-allowed-with-mappings"):
            raise invalid_parameter(CLASSIC_DISABLED if faults.on("text-classic-mappings-wrong")
                                    else CLASSIC_WITH_MAPPINGS)  # C3
        pool, login = self._login_for(state, identity, logins, "GetOpenIdToken")
        amr = login.amr if login is not None else ["unauthenticated"]
        if faults.on("oidc-amr-no-authenticated"):
            amr = [value for value in amr if value != "authenticated"]
        # A2: the classic flow's token carries no principal tags (assumed: pin it)
        tags = session_tags(pool, login, identity, faults) \
            if faults.on("tags-on-classic-flow") else {}
        lifetime = 3600 if faults.on("oidc-token-lifetime-1h") else OIDC_TOKEN_SECONDS  # C4
        return mint_open_id_token(pool.identity_pool_id, identity_id, amr, state.clock.now(),
                                  tags, lifetime)


def _page(items: list[Any], ids: list[str], max_results: int,
          next_token: str | None) -> tuple[list[Any], str | None]:
    """One page of `items`; the token is the id of the first item of the next page."""
    start = 0
    if next_token is not None:
        if next_token not in ids:
            raise invalid_parameter("The NextToken is not valid.")
        start = ids.index(next_token)
    end = start + max_results
    return items[start:end], (ids[end] if end < len(items) else None)


_backends: dict[str, CognitoIdentityBackend] = {}
_backends_lock = threading.Lock()


def backend_for(region: str) -> CognitoIdentityBackend:
    """The region's backend (created on first use), shared by every emulator in the process."""
    with _backends_lock:
        if region not in _backends:
            _backends[region] = CognitoIdentityBackend(region)
        return _backends[region]
