"""The ways a user gets AWS credentials out of an identity pool.

- enhanced: GetId, then GetCredentialsForIdentity (optionally with CustomRoleArn)
- classic:  GetId, GetOpenIdToken, then STS AssumeRoleWithWebIdentity on a role
            of the caller's choosing (SPEC C5: the escalation path)
- guest:    GetId and GetCredentialsForIdentity with no Logins

Every flow ends in an `Issued` (credentials, plus the role they really belong to,
asked of STS GetCallerIdentity) or a `Refused` (the AWS error code), or an
`Errored` when something other than AWS's answer got in the way. Tokens and
keys stay in memory; nothing here logs them, and each is registered for
redaction by value the moment it arrives (results.keep), in the process that got it.

The negative side lives here too, so tests only pick a case and assert: the
Logins a broken or foreign token makes (`broken_logins`, SPEC E2, G8), a token
that outlived its validity (`expired_logins`), and what an administrator does
to a user after a token was issued (`revoke`, SPEC E3).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Any

import jwt
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import serialization

from rolecall.account import tokens as jwts
from rolecall.account.clients import Target
from rolecall.account.provision import RunSecrets, Stack
from rolecall.account.results import (
    Errored,
    Issued,
    Result,
    Trail,
    failure,
    keep,
    until_settled,
)
from rolecall.reporting.redact import register_secret

CLASSIC_SESSION_NAME = "rolecall-classic"
BROKEN_CASES = ("tampered", "resigned", "other-client", "other-pool", "other-provider",
                "access-token", "refresh-token", "alg-none", "hs256", "embedded-jwk",
                "swapped-provider")
REVOCATIONS = ("signed-out", "disabled", "deleted")

PASSWORD_ENV = "ROLECALL_PASSWORD_"  # + the persona, upper case, `-` as `_`


def password_variable(user: str) -> str:
    """The environment variable holding a supplied test user's password."""
    return PASSWORD_ENV + user.upper().replace("-", "_")


def supplied_password(user: str) -> str:
    """A supplied user's password, from the environment only: it is never written anywhere."""
    value = os.environ.get(password_variable(user))
    if not value:
        raise KeyError(f"set {password_variable(user)} to the password of the test user of "
                       f"persona {user}")
    return register_secret(value, "password")  # redacted by value wherever it might show


def _expires_soon(token: str, margin: float = 60.0) -> bool:
    """True when a cached ID token is within `margin` seconds of its exp (long AWS runs)."""
    expires = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
    return float(expires) - time.time() < margin


class Flows:
    """Credential flows for one provisioned stack; sign-ins and results are cached per process."""

    def __init__(self, target: Target, stack: Stack, secrets: RunSecrets) -> None:
        self.target = target
        self.stack = stack
        self.secrets = secrets
        self.idp = target.anonymous("cognito-idp")
        self.identity = target.anonymous("cognito-identity")
        # Sent as given: botocore refuses DurationSeconds < 900 itself (never > 43200,
        # boto/botocore #3337), and the bounds cells observe the target's answer (C8)
        self.sts = target.anonymous("sts", validate=False)
        self._tokens: dict[str, dict[str, str]] = {}
        self._results: dict[tuple[str, ...], Result] = {}
        self._identities: dict[tuple[str, ...], str] = {}
        self._clients: dict[str, Any] = {}
        self._jwks: dict[str, jwt.PyJWKClient] = {}  # user pool id -> its JWKS
        self._lock = threading.Lock()

    # -- sign-in -------------------------------------------------------------------------
    def tokens(self, user: str, client_id: str | None = None) -> dict[str, str]:
        """The user's IdToken, AccessToken and RefreshToken (cached; signed in again near expiry)."""
        key = f"{user}\n{client_id or self.stack.client_of(None, user)}"
        cached = self._tokens.get(key)
        if cached is None or _expires_soon(cached["IdToken"]):
            self._tokens[key] = self.sign_in(user, client_id)
        return self._tokens[key]

    def sign_in(self, user: str, client_id: str | None = None,
                member: str | None = None) -> dict[str, str]:
        """A fresh sign-in (not cached) to the user's own pool (`member`'s, for a copy of
        that user), through the pool's app client or another one."""
        client_id = client_id or self.stack.client_of(None, member or user)
        if self.stack.admin_sign_in:  # a team's client need not allow USER_PASSWORD_AUTH
            auth = self.target.client("cognito-idp").admin_initiate_auth(
                UserPoolId=self.stack.user_pool_of(member or user), ClientId=client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": self.stack.users.get(user, user),
                                "PASSWORD": self.password(user)})
        else:
            auth = self.idp.initiate_auth(
                ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": self.stack.users.get(user, user),
                                "PASSWORD": self.password(user)})
        result = keep(auth["AuthenticationResult"])  # either way: redacted wherever it shows
        return {name: result[name] for name in ("IdToken", "AccessToken", "RefreshToken")
                if name in result}

    def password(self, user: str) -> str:
        """The run's derived password, or a supplied user's from the environment (never logged)."""
        if user in self.stack.supplied_users:
            return supplied_password(user)
        return self.secrets.password(self.stack.scenario, user)

    def present(self, variant: str, logins: dict[str, str]) -> Result:
        """The enhanced flow with exactly these Logins (negative tests; never cached)."""
        return until_settled(self.stack.iam_settled_by,
                             lambda: self._enhanced(variant, logins, None))

    def verified_claims(self, user: str) -> dict[str, Any]:
        """The user's ID token, verified with pyjwt against the pool's JWKS (SPEC G9).

        Signature (RS256, key from `<iss>/.well-known/jwks.json`), issuer, audience
        (the app client) and expiry are all checked; a failure raises jwt's error.
        """
        token = self.tokens(user)["IdToken"]
        issuer = f"https://{self.stack.provider_of(user)}"
        key = self._jwks_of(user).get_signing_key_from_jwt(token)
        return dict(jwt.decode(token, key.key, algorithms=["RS256"],
                               audience=self.stack.client_of(None, user), issuer=issuer))

    def _jwks_of(self, user: str) -> jwt.PyJWKClient:
        """The JWKS client of the user's pool (one per pool, reused)."""
        pool_id = self.stack.user_pool_of(user)
        if pool_id not in self._jwks:
            # AWS publishes it at <iss>/.well-known/jwks.json; a custom endpoint serves the
            # same path under its own address.
            base = (f"{self.target.endpoint_url}/{pool_id}" if self.target.endpoint_url
                    else f"https://{self.stack.provider_of(user)}")
            self._jwks[pool_id] = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
        return self._jwks[pool_id]

    def pool_public_key(self, user: str | None = None) -> bytes:
        """The PEM of the key a pool signs ID tokens with (from its JWKS, as G9 reads it):
        `user`'s pool, else the first user's."""
        user = user or next(iter(self.stack.users))
        token = self.tokens(user)["IdToken"]
        key = self._jwks_of(user).get_signing_key_from_jwt(token).key
        return bytes(key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo))

    def dynamodb(self, issued: Issued) -> Any:
        """A DynamoDB client signed with these credentials (one per credential, reused)."""
        return self.client_as("dynamodb", issued.credentials)

    def client_as(self, service: str, credentials: dict[str, str]) -> Any:
        """A client of `service` signed with these credentials (one per credential, reused:
        a boto3 client costs more than the probe it makes)."""
        key = f"{service}\n{credentials['AccessKeyId']}"
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.target.as_credentials(service, credentials)
            return self._clients[key]

    def admin(self, service: str) -> Any:
        """A client of `service` with the admin credentials (reused)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.target.client(service)
            return self._clients[service]

    def logins(self, user: str, variant: str | None = None) -> dict[str, str]:
        """Logins for the variant's identity pool: an ID token of the user's own pool, keyed
        by that pool's provider (P1, E2)."""
        client = self.stack.client_of(variant, user)
        return {self.stack.provider_of(user): self.tokens(user, client)["IdToken"]}

    def access_token_claims(self, user: str) -> dict[str, Any]:
        """The user's access token, decoded (SPEC G8: it carries no role claims)."""
        return dict(jwt.decode(self.tokens(user)["AccessToken"],
                               options={"verify_signature": False}))

    # -- tokens that must not buy credentials ------------------------------------------
    def broken_logins(self, case: str, user: str) -> dict[str, str]:
        """The Logins map a client would send in this broken case (one of BROKEN_CASES)."""
        if case not in BROKEN_CASES:
            raise ValueError(f"unknown broken-token case {case!r}; known: {', '.join(BROKEN_CASES)}")
        own, provider = self.tokens(user), self.stack.provider_of(user)
        if case == "tampered":  # claim a group the user is not in, keep the old signature
            return {provider: jwts.tampered(own["IdToken"], **{"cognito:groups": ["admins"]})}
        if case == "resigned":
            return {provider: jwts.resigned(own["IdToken"])}
        if case == "other-client":  # right pool, an app client the identity pool does not know
            return {provider: self.sign_in(user, self._negative(self.stack.other_client_id))[
                "IdToken"]}
        if case in ("other-pool", "other-provider"):  # the same user in a foreign user pool
            foreign = self.sign_in(user, self._negative(self.stack.foreign_client_id))["IdToken"]
            return {provider if case == "other-pool" else self.stack.foreign_provider_name: foreign}
        if case == "swapped-provider":  # a valid token keyed as a login of the OTHER pool (E2)
            return {self._other_provider(user): own["IdToken"]}
        if case in ("alg-none", "hs256", "embedded-jwk"):  # signed as the pool never signs
            return {provider: jwts.misigned(own["IdToken"], case, self.pool_public_key(user))}
        if case == "refresh-token":  # a client that sends the wrong one of its three tokens
            if "RefreshToken" not in own:
                raise ValueError(f"scenario {self.stack.scenario}: sign-in returned no "
                                 "RefreshToken, so the refresh-token case cannot run; drop it "
                                 "from `negatives.cases`")
            return {provider: own["RefreshToken"]}
        return {provider: own["AccessToken"]}  # access-token: not an ID token (G8)

    def _other_provider(self, user: str) -> str:
        """Another user pool provider of the stack's identity pools than the user's own."""
        other = next((p for p in self.stack.pool_ids if p != self.stack.pool_of(user)), None)
        if other is None:
            raise ValueError(f"scenario {self.stack.scenario} has one user pool, so no other "
                             "provider to present a token under; drop swapped-provider")
        return self.stack.provider(other)

    def _negative(self, client_id: str | None) -> str:
        """A client id only scenarios with `negatives:` provision; never the stack's own."""
        if not client_id:
            raise ValueError(f"scenario {self.stack.scenario} has no `negatives:` section, so no "
                             "other app client or foreign user pool to sign in with; add one")
        return client_id

    def expired_logins(self, user: str) -> dict[str, str]:
        """Logins with an ID token past its `exp` (the target's clock moved, or a real wait)."""
        token = self.sign_in(user)["IdToken"]
        self.target.let_time_pass(jwts.claims_of(token)["exp"] - time.time() + 5,
                                  self.stack.user_pool_of(user))
        return {self.stack.provider_of(user): token}

    def revoked_logins(self, event: str, user: str) -> dict[str, str]:
        """Logins with an ID token issued just before the user was revoked by `event`."""
        token = self.sign_in(user)["IdToken"]
        self.revoke(event, user)
        return {self.stack.provider_of(user): token}

    def revoke(self, event: str, user: str) -> None:
        """What an administrator does to a user: sign out everywhere, disable, delete."""
        idp = self.target.client("cognito-idp")
        actions = {"signed-out": idp.admin_user_global_sign_out,
                   "disabled": idp.admin_disable_user, "deleted": idp.admin_delete_user}
        if event not in actions:
            raise ValueError(f"unknown revocation {event!r}; known: {', '.join(REVOCATIONS)}")
        actions[event](UserPoolId=self.stack.user_pool_of(user), Username=self.stack.users[user])

    # -- flows ---------------------------------------------------------------------------
    def enhanced(self, variant: str, user: str, custom_role: str | None = None) -> Result:
        key = ("enhanced", variant, user, custom_role or "")
        return self._cached(key, lambda: self._enhanced(variant, self.logins(user, variant),
                                                        custom_role, cache=True))

    def guest(self, variant: str) -> Result:
        return self._cached(("guest", variant), lambda: self._enhanced(variant, None, None,
                                                                       cache=True))

    def classic(self, variant: str, user: str, role: str) -> Result:
        return self._cached(("classic", variant, user, role),
                            lambda: self._classic(variant, user, role))

    def _cached(self, key: tuple[str, ...], run: Any) -> Result:
        """An answer of AWS (Issued, Refused) is kept; an Errored one is not, so the next
        cell that needs this credential tries again (SPEC section 7)."""
        with self._lock:
            if key in self._results:
                return self._results[key]
            result = until_settled(self.stack.iam_settled_by, run)
            if not isinstance(result, Errored):
                self._results[key] = result
            return result

    def identity_id(self, variant: str, user: str) -> str:
        """GetId for the user's current login (not cached: E1 and E14 ask it again)."""
        return self._get_id(Trail(), variant, {"Logins": self.logins(user, variant)})

    def on_identity(self, flow: str, variant: str, identity_id: str, user: str,
                    role: str | None) -> Result:
        """`user`'s Logins on an identity that need not be theirs (SPEC E14): the enhanced
        flow's GetCredentialsForIdentity, or the classic flow's GetOpenIdToken and then
        AssumeRoleWithWebIdentity on `role`. Never cached: the refusal is what is tested."""
        logins = self.logins(user, variant)
        if flow == "classic":
            assert role is not None, "the classic flow names the role it asks STS for"
            return until_settled(self.stack.iam_settled_by, lambda: self._classic_with(
                variant, logins, role, identity_id=identity_id))
        return until_settled(self.stack.iam_settled_by, lambda: self._enhanced(
            variant, logins, None, identity_id=identity_id))

    def _get_id(self, trail: Trail, variant: str, with_logins: dict[str, Any],
                cache: bool = False) -> str:
        """GetId: the identity of these Logins (none: a guest) in the variant's pool.

        With `cache`, asked once per pool and login token (SPEC E1: the same user always
        gets the same identity; AWS asks clients to cache GetId, 25 RPS quota). Negative
        and revocation cells never use the cache: their GetId is part of what they test.
        """
        pool_id = self.stack.identity_pools[variant]
        key = (variant, *sorted((with_logins.get("Logins") or {}).values()))
        if cache and key in self._identities:
            return self._identities[key]
        identity_id = str(trail(self.identity.get_id(IdentityPoolId=pool_id,
                                                     **with_logins))["IdentityId"])
        if cache:
            self._identities[key] = identity_id
        return identity_id

    def _enhanced(self, variant: str, logins: dict[str, str] | None, custom_role: str | None,
                  cache: bool = False, identity_id: str | None = None) -> Result:
        trail = Trail()
        with_logins = {"Logins": logins} if logins else {}
        try:
            identity_id = identity_id or self._get_id(trail, variant, with_logins, cache)
            extra = {"CustomRoleArn": self.stack.roles[custom_role]} if custom_role else {}
            answer = trail(self.identity.get_credentials_for_identity(
                IdentityId=identity_id, **with_logins, **extra))
        except (ClientError, BotoCoreError) as exc:
            return failure(exc, trail)
        return self._who(keep(answer["Credentials"]), identity_id, trail)

    def classic_guest(self, variant: str, role: str) -> Result:
        """The classic flow for an unauthenticated identity: no scope-down applies (E5, C5)."""
        return self._cached(("classic-guest", variant, role),
                            lambda: self._classic_with(variant, None, role, cache=True))

    def after_self_service(self, variant: str, user: str, attribute: str, value: str) -> Result:
        """The user sets one of their own attributes, signs in again, takes the enhanced flow.

        This is what any signed-in user can do with the app client's access token
        (UpdateUserAttributes). It is done on a throwaway copy of the user (same
        groups and attributes), so no other cell, on any worker, ever signs in as a
        user whose attributes are being changed; the copy is deleted afterwards.
        """
        trail = Trail()
        idp_admin = self.target.client("cognito-idp")
        clone, provider = self._clone(idp_admin, user), self.stack.provider_of(user)
        try:
            try:
                signed_in = self.sign_in(clone, self.stack.client_of(variant, user), user)
                # the user already has credentials (an identity, its tags) before the change:
                # what they get after it must follow the new claims, not the first sign-in
                self._enhanced(variant, {provider: signed_in["IdToken"]}, None)
                trail(self.idp.update_user_attributes(
                    AccessToken=signed_in["AccessToken"],
                    UserAttributes=[{"Name": attribute, "Value": value}]))
            except (ClientError, BotoCoreError) as exc:
                return failure(exc, trail)  # the app client does not let users write it
            fresh = self.sign_in(clone, self.stack.client_of(variant, user), user)["IdToken"]
            return until_settled(self.stack.iam_settled_by, lambda: self._enhanced(
                variant, {provider: fresh}, None))
        finally:
            idp_admin.admin_delete_user(UserPoolId=self.stack.user_pool_of(user), Username=clone)

    def _clone(self, idp_admin: Any, user: str) -> str:
        """A copy of `user` (attributes, groups, a derived password), `rc-<runid>-<user>-ss-<hex>`:
        in a team's pool, a copy a killed run left behind is one `rolecall sweep` finds."""
        pool, name = self.stack.user_pool_of(user), self.stack.users[user]
        clone = f"rc-{self.stack.runid}-{user}-ss-{secrets.token_hex(4)}"
        attributes = [a for a in idp_admin.admin_get_user(UserPoolId=pool, Username=name)[
            "UserAttributes"] if a["Name"] not in {"sub", "email_verified"}]
        groups = [g["GroupName"] for g in idp_admin.admin_list_groups_for_user(
            UserPoolId=pool, Username=name)["Groups"]]
        idp_admin.admin_create_user(UserPoolId=pool, Username=clone, MessageAction="SUPPRESS",
                                    UserAttributes=attributes)
        idp_admin.admin_set_user_password(UserPoolId=pool, Username=clone, Permanent=True,
                                          Password=self.secrets.password(self.stack.scenario, clone))
        for group in groups:
            idp_admin.admin_add_user_to_group(UserPoolId=pool, Username=clone, GroupName=group)
        return clone

    def classic_session(self, variant: str, user: str, role: str, seconds: int) -> Result:
        """The classic flow asking STS for a session of `seconds` (expiry: the shortest, 900;
        bounds, SPEC C7, C8: any number, sent as given). Not cached."""
        return until_settled(self.stack.iam_settled_by, lambda: self._classic_with(
            variant, self.logins(user, variant), role, seconds))

    def _classic(self, variant: str, user: str, role: str) -> Result:
        return self._classic_with(variant, self.logins(user, variant), role, cache=True)

    def _classic_with(self, variant: str, logins: dict[str, str] | None, role: str,
                      duration: int | None = None, cache: bool = False,
                      identity_id: str | None = None) -> Result:
        trail = Trail()
        with_logins = {"Logins": logins} if logins else {}
        try:
            identity_id = identity_id or self._get_id(trail, variant, with_logins, cache)
            token = keep(trail(self.identity.get_open_id_token(IdentityId=identity_id,
                                                                **with_logins)))["Token"]
            answer = trail(self.sts.assume_role_with_web_identity(
                RoleArn=self.stack.roles[role], RoleSessionName=CLASSIC_SESSION_NAME,
                WebIdentityToken=token, **({"DurationSeconds": duration} if duration else {})))
        except (ClientError, BotoCoreError) as exc:
            return failure(exc, trail)
        credentials = keep(answer["Credentials"])
        # STS names the session it issued (AssumedRoleUser.Arn): no GetCallerIdentity needed
        issued = self._issued({"AccessKeyId": credentials["AccessKeyId"],
                               "SecretKey": credentials["SecretAccessKey"],
                               "SessionToken": credentials["SessionToken"],
                               "Expiration": credentials["Expiration"]},  # C7
                              str(answer["AssumedRoleUser"]["Arn"]), identity_id, trail)
        if isinstance(issued, Issued):  # C4: keep what the OIDC token said, never the token
            issued.oidc_claims = dict(jwt.decode(token, options={"verify_signature": False}))
        return issued

    def _who(self, credentials: dict[str, Any], identity_id: str, trail: Trail) -> Result:
        """Ask STS which role the credentials really are (SPEC E13)."""
        try:
            sts = self.target.as_credentials("sts", credentials)
            arn = trail(sts.get_caller_identity())["Arn"]
        except (ClientError, BotoCoreError) as exc:
            return failure(exc, trail)
        return self._issued(credentials, arn, identity_id, trail)

    def _issued(self, credentials: dict[str, Any], arn: str, identity_id: str,
                trail: Trail) -> Issued:
        role_name = arn.split("/")[1] if ":assumed-role/" in arn else arn
        role_arn = next((a for a in self.stack.roles.values() if a.endswith(f"/{role_name}")), arn)
        return Issued(role_arn, arn, dict(credentials), identity_id, trail.ids)
