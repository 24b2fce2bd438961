"""What the resource models share: stack tags, AWS-shaped failure reasons, a base class.

moto's own CloudFormation models are the backend objects themselves (an IAM
`Role` is both). rolecall's Cognito resources live in backends whose objects
are not CloudFormationModels (moto's cognito-idp, rolecall's cognito-identity),
so each model here is a thin handle: the physical id, the attributes GetAtt can
read, and how to delete it.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.cloudformation.models import cloudformation_backends

# The SDK service names CloudFormation puts in a failed resource's status reason
SERVICE_NAMES = {
    "Cognito::Identity": "AmazonCognitoIdentity",
    "Cognito": "AWSCognitoIdentityProviderService",
    "IAM": "AmazonIdentityManagement",
    "DynamoDB": "AmazonDynamoDBv2",
    "SSM": "AWSSimpleSystemsManagement",
}


def stack_tags(account_id: str, region: str, stack_id: str | None) -> dict[str, str]:
    """The tags given to the stack (`deploy --tags`): AWS propagates them to its resources."""
    if not stack_id:
        return {}
    stack = cloudformation_backends[account_id][region].stacks.get(stack_id)
    return dict(stack.tags or {}) if stack is not None else {}


def tag_list_to_map(tags: Any) -> dict[str, str]:
    """CloudFormation writes tags as [{Key, Value}] for most types and as a map for some."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(tag["Key"]): str(tag["Value"]) for tag in tags or []}


def failure_reason(error: BaseException, resource_type: str) -> str:
    """A failed resource's ResourceStatusReason, in the shape CloudFormation reports SDK errors.

    e.g. "X is not a valid RoleMapping ProviderName or is not a configured provider.
    (Service: AmazonCognitoIdentity; Status Code: 400; Error Code: InvalidParameterException;
    Request ID: ...; Proxy: null)" (aws-cdk#19222 quotes this shape from a real stack).
    """
    code = getattr(error, "error_type", None) or getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    if not isinstance(code, str):  # moto's code is the HTTP status; ours is the error code
        return message
    status = getattr(error, "status", None) or getattr(error, "code", 400)
    status = status if isinstance(status, int) else 400
    service = _service_of(resource_type)
    return (f"{message} (Service: {service}; Status Code: {status}; Error Code: {code}; "
            f"Request ID: {uuid.uuid4()}; Proxy: null)")


def _service_of(resource_type: str) -> str:
    parts = resource_type.split("::")
    if resource_type.startswith("AWS::Cognito::IdentityPool"):
        return SERVICE_NAMES["Cognito::Identity"]
    return SERVICE_NAMES.get(parts[1] if len(parts) > 1 else "", parts[1] if len(parts) > 1 else "")


class Handle:
    """Mixin of rolecall's resource models: `class UserPool(Handle, CloudFormationModel)`.

    Not a CloudFormationModel itself: moto registers the *direct* subclasses of
    CloudFormationModel (`CloudFormationModel.__subclasses__()`), so each model must
    name it as a base.
    """

    ATTRIBUTES: dict[str, str] = {}  # GetAtt name -> attribute of the handle

    def __init__(self, physical_id: str, **attributes: str) -> None:
        self.physical_id = physical_id
        self.attributes = attributes

    @property
    def physical_resource_id(self) -> str:
        """What Ref returns and ListStackResources shows as PhysicalResourceId."""
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self.attributes[self.ATTRIBUTES[attribute_name]]

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        """Remove the resource (DeleteStack, rollback). Subclasses override."""
