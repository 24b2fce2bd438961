"""Who may assume a scenario's roles, and what their sessions carry (SPEC T1-T3, A1-A3).

A role's `trust:` is the trust policy rolecall writes for it (the audit and the oracle
read it); an identity pool's `principal_tags:` are the token claims it copies into each
session as principal tags, which that trust policy must then allow (sts:TagSession).
"""

from __future__ import annotations

from typing import Literal

from rolecall.model.base import Model


class Trust(Model):
    """The trust policy rolecall writes for a role (SPEC T1-T3).

    aud: `pool` = StringEquals aud on this stack's identity pools; `none` = no aud
    condition (T3, any pool in any account); `other` = an identity pool that is not ours.
    amr: which identities it admits: ForAnyValue:StringLike amr `authenticated` or
    `unauthenticated`, `any` (both), `none` (no amr condition).
    """

    aud: Literal["pool", "none", "other"] = "pool"
    amr: Literal["authenticated", "unauthenticated", "any", "none"] = "authenticated"
    # How the conditions are written (near-miss scenarios, issue 13): `wildcard` = amr as
    # StringLike "auth*" (admits like the exact value); `equals-wildcard` = ForAnyValue:
    # StringEquals "auth*" (the * is literal: admits nobody); `wrong-case` = StringLike
    # "Authenticated" (case-sensitive: admits nobody); aud `wrong-case` = StringEquals on
    # the upper-cased pool id (admits nobody), `ignore-case` = StringEqualsIgnoreCase on it.
    amr_form: Literal["exact", "wildcard", "equals-wildcard", "wrong-case"] = "exact"
    aud_form: Literal["exact", "wrong-case", "ignore-case"] = "exact"
    # `other`: the statement names another federated provider; `assume-role`: its Action
    # is sts:AssumeRole. Either way Cognito identities are not admitted (T1).
    principal: Literal["cognito", "other"] = "cognito"
    action: Literal["web-identity", "assume-role"] = "web-identity"
    # The statement also allows sts:TagSession: needed when the identity pool passes
    # principal tags (SPEC A3).
    tag_session: bool = False

    def admits(self, amr: str) -> bool:
        """Does this trust policy admit an identity of this stack's pools with `amr` (T1, T2)?"""
        if self.aud == "other" or self.principal == "other" or self.action == "assume-role":
            return False
        if self.aud == "pool" and self.aud_form == "wrong-case":
            return False
        if self.amr == "none":
            return True
        if self.amr_form in ("equals-wildcard", "wrong-case"):
            return False
        return self.amr in ("any", amr)


class PrincipalTags(Model):
    """Attributes for access control (SPEC A1): which token claims become session tags."""

    tags: dict[str, str] = {}  # tag key -> claim, e.g. {tenant: custom:tenant}
    use_defaults: bool = False  # AWS's defaults: username <- sub, client <- aud

    def mapped(self) -> dict[str, str]:
        """Every tag the map sets, the defaults included (A1)."""
        defaults = {"username": "sub", "client": "aud"} if self.use_defaults else {}
        return {**defaults, **self.tags}
