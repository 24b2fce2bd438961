"""Roles and their policies, read in place from moto's IAM backend.

moto stores what provisioning created (roles, inline policies, attached managed
policies, trust policies) but never evaluates it; this module turns that
storage into parsed policy documents for rolecall.emulator.iam.policy.

moto keeps documents as the strings it was given, which IAM's API may hand back
URL-encoded; both forms are accepted. A document that does not parse cannot
grant anything, so it is left out (IAM would have refused it at creation).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.exceptions import NotFoundException
from moto.iam.models import ManagedPolicy, Role, iam_backends

__all__ = ["Role", "aws_managed_policy", "boundary_policy", "find_role", "identity_policies",
           "managed_policy_exists", "parse_document", "role_tags", "trust_policy"]

log = logging.getLogger("rolecall.emulator")

def find_role(role_arn: str) -> Role | None:
    """The role behind `arn:<partition>:iam::<account>:role/<path><name>`; None if deleted."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return None
    if not parts[5].startswith("role/"):
        return None
    partition, account = parts[1], parts[4]
    try:
        return iam_backends[account][partition].get_role_by_arn(role_arn)
    except (NotFoundException, KeyError):
        return None


def identity_policies(role: Role) -> list[dict[str, Any]]:
    """Inline policies, then the default version of every attached managed policy."""
    documents: list[dict[str, Any]] = []
    for name, text in role.policies.items():
        _append(documents, text, f"inline policy {name} of role {role.name}")
    for arn, policy in role.managed_policies.items():
        _append(documents, _default_document(policy), f"managed policy {arn}")
    return documents


def boundary_policy(role: Role, *, newest: bool = False) -> dict[str, Any] | None:
    """The role's permissions boundary: its managed policy's DEFAULT version; None without one.

    "The default version is the version that is in effect for the IAM users, groups, and
    roles to which the policy is attached" (IAM API reference, CreatePolicyVersion), for a
    boundary as for an attached policy. `newest` reads the newest version instead (fault
    boundary-non-default-version). A boundary whose policy cannot be read (deleted, or an
    AWS-managed policy moto does not bundle) allows nothing: a cap that cannot be read
    must not become no cap at all.
    """
    arn = getattr(role, "permissions_boundary_arn", None)
    if not arn:
        return None
    policy = _managed_policy(role.account_id, arn)
    if policy is not None:
        text = _newest_document(policy) if newest else _default_document(policy)
        return parse_document(text) or {}
    if arn.split(":")[4] == "aws":
        return aws_managed_policy(arn) or {}
    log.warning("permissions boundary %s of role %s does not exist: it allows nothing",
                arn, role.name)
    return {}


def managed_policy_exists(account: str, arn: str) -> bool:
    """A customer-managed policy of the account, or an AWS-managed policy (by its ARN)."""
    if _managed_policy(account, arn) is not None:
        return True
    return arn.startswith("arn:aws:iam::aws:policy/") and aws_managed_policy(arn) is not None


def role_tags(role: Role) -> dict[str, str]:
    """The role's own IAM tags, which a session of the role carries as aws:PrincipalTag/<key>
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html: "IAM tags - The
    tags attached to your IAM assumed role")."""
    return {str(tag["Key"]): str(tag["Value"]) for tag in getattr(role, "tags", None) or []
            if isinstance(tag, Mapping) and "Key" in tag and "Value" in tag}


def trust_policy(role: Role) -> dict[str, Any]:
    """The role's trust (assume-role) policy; {} (trusts nobody) when it does not parse."""
    return parse_document(role.assume_role_policy_document) or {}


def aws_managed_policy(name_or_arn: str) -> dict[str, Any] | None:
    """The document of an AWS-managed policy moto knows, by name or ARN.

    For session policies such as AmazonCognitoUnAuthedIdentitiesSessionPolicy
    (SPEC E5), which are never attached to a role and so are not in the backend
    unless moto was told to load AWS-managed policies.
    """
    name = name_or_arn.rsplit("/", 1)[-1]
    document = _aws_managed_documents().get(name)
    return copy.deepcopy(dict(document)) if document is not None else None


def parse_document(document: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A policy document from JSON text, URL-encoded JSON text, or an already parsed mapping."""
    if document is None:
        return None
    if isinstance(document, Mapping):
        return dict(document)
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _append(documents: list[dict[str, Any]], text: str | None, what: str) -> None:
    parsed = parse_document(text)
    if parsed is None:
        log.warning("ignoring %s: not a JSON policy document", what)
        return
    documents.append(parsed)


def _default_document(policy: ManagedPolicy) -> str | None:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    return None


def _managed_policy(account: str, arn: str) -> ManagedPolicy | None:
    try:
        return iam_backends[account]["aws"].managed_policies.get(arn)
    except KeyError:
        return None


def _newest_document(policy: ManagedPolicy) -> str | None:
    """The most recently created version (v1, v2, ... by number), default or not."""
    versions = sorted(policy.versions, key=lambda v: int(re.sub(r"\D.*", "", str(v.version_id)[1:])
                                                        or 0))
    return versions[-1].document if versions else None


@lru_cache(maxsize=1)
def _aws_managed_documents() -> dict[str, Mapping[str, Any]]:
    """moto's bundled copy of AWS-managed policies, parsed once per process."""
    data = json.loads(aws_managed_policies_data)
    return {name: entry["Document"] for name, entry in data.items()
            if isinstance(entry, Mapping) and isinstance(entry.get("Document"), Mapping)}
