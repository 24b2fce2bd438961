"""Policy documents as scenarios write them: placeholders the stack's real names fill in.

A scenario cannot know the ARNs its stack will have, so it writes `{{table_arn}}` (the
main table; `{{table_arn:<name>}}` one of its `other_tables`), `{{region}}`,
`{{account}}`, `{{role_arn:<role>}}` and `{{session_arn:<role>}}` (the role's Cognito
session, `assumed-role/<role name>/CognitoIdentityCredentials`, SPEC E13). Provisioning
fills them with the stack's names; the oracle and the audit with made-up ones of the same
shape.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(
    r"\{\{(table_arn(?::([^}]+))?|region|account|(role|session)_arn:([^}]+))\}\}")
COGNITO_SESSION_NAME = "CognitoIdentityCredentials"  # SPEC E13


def session_arn(role_arn: str, session_name: str = COGNITO_SESSION_NAME) -> str:
    """The assumed-role session ARN of a role ARN (SPEC E13)."""
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{name}/{session_name}"


def render(document: Any, *, table_arn: str, region: str, account: str,
           roles: Mapping[str, str], tables: Mapping[str, str] | None = None) -> Any:
    """The document with every placeholder filled in; `roles` maps role names to ARNs,
    `tables` the names of the other tables to theirs."""
    if isinstance(document, dict):
        return {k: render(v, table_arn=table_arn, region=region, account=account, roles=roles,
                          tables=tables) for k, v in document.items()}
    if isinstance(document, list):
        return [render(v, table_arn=table_arn, region=region, account=account, roles=roles,
                       tables=tables) for v in document]
    if not isinstance(document, str):
        return document

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "table_arn":
            return table_arn
        if name.startswith("table_arn:"):
            return (tables or {}).get(match.group(2), match.group(0))
        if name in ("region", "account"):
            return region if name == "region" else account
        arn = roles.get(match.group(4), match.group(0))
        return session_arn(arn) if match.group(3) == "session" and arn in roles.values() else arn

    return _PLACEHOLDER.sub(fill, document)


def physical_name(runid: str, scenario: str, logical: str, limit: int = 64) -> str:
    """`rc-<runid>-<scenario>-<logical>`, shortened with a hash when over `limit`."""
    name = f"rc-{runid}-{scenario}-{logical}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"
