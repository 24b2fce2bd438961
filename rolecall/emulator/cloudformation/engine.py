"""rolecall's changes to moto's CloudFormation engine, installed once per process.

moto (5.2.5) resolves templates well but was built for unit tests of single
resources; `aws cloudformation deploy` of real `cdk synth` output needs four
more things, each a small wrapper around one moto function:

1. Types the embedded target does not serve (Lambda, S3 assets, Custom::...,
   anything outside Cognito, IAM, DynamoDB and SSM) become `Placeholder`s: a
   warning naming the type (once per type per process), then the resource counts
   as created with a placeholder physical id, so a stack with a Lambda trigger
   still deploys what rolecall tests. moto would otherwise skip them silently
   (Ref then resolves to nothing) or try to run them (Lambda, custom resources).
   AWS::CDK::Metadata is accepted without a warning: it is only metadata.
2. A resource that fails rolls the stack back the way CloudFormation does:
   a CREATE_FAILED event on the resource with the service's error text, the
   stack's already-created resources deleted, status ROLLBACK_COMPLETE. moto
   instead fails the CreateStack / ExecuteChangeSet call itself (its TODO:
   "handle execution errors and implement rollback").
3. The CDK's `BootstrapVersion` parameter reads `/cdk-bootstrap/<qualifier>/version`
   from SSM: the target stands for a bootstrapped account, so that parameter is
   created (value BOOTSTRAP_VERSION) the first time a template asks for it.
4. Stack tags reach the IAM roles and DynamoDB tables of the stack, as on AWS
   (moto's own models drop them); rolecall's Cognito models add them themselves.
5. Re-deploys: a parameter's previous value is what was given (the SSM parameter
   *name* for SSM-typed ones, as DescribeStacks' ParameterValue on AWS), not moto's
   resolved value, which it would then look up in SSM as a name and crash on; and a
   change set that changes nothing is a FAILED change set ("No changes to deploy"),
   not a ValidationError (that answer belongs to UpdateStack).
6. Rules sections (the CDK's CheckBootstrapVersion) are checked at CreateStack /
   CreateChangeSet, see `rules`; a missing SSM parameter is AWS's ValidationError
   "Unable to fetch parameters [...]", not a crash.
7. A generated IAM role name keeps to IAM's 64 characters, as CloudFormation's does
   (`<stack>-<logical id>-<suffix>`, the front cut short). moto's runs longer for CDK
   logical ids, and the target then refuses GetRole on the role's own name.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.iam.models import Role, iam_backends
from moto.ssm.models import ssm_backends

from rolecall.emulator.cloudformation import cognito_identity, cognito_idp, dynamodb, rules
from rolecall.emulator.cloudformation.common import Handle, failure_reason, stack_tags

log = logging.getLogger("rolecall.emulator.cloudformation")

# The services the embedded target serves: other types become placeholders.
SERVED_SERVICES = ("AWS::Cognito::", "AWS::IAM::", "AWS::DynamoDB::", "AWS::SSM::")
NO_OP_TYPES = ("AWS::CDK::Metadata",)
# Any version >= 6 passes the CDK's CheckBootstrapVersion rule; 30 is a recent bootstrap.
BOOTSTRAP_VERSION = "30"
_BOOTSTRAP_PARAMETER = re.compile(r"^/cdk-bootstrap/[A-Za-z0-9_-]+/version$")

_MODELS: tuple[type[CloudFormationModel], ...] = (
    cognito_idp.UserPool, cognito_idp.UserPoolClient, cognito_idp.UserPoolGroup,
    cognito_idp.UserPoolUserToGroupAttachment, cognito_identity.IdentityPool,
    cognito_identity.IdentityPoolRoleAttachment, cognito_identity.IdentityPoolPrincipalTag,
    dynamodb.GlobalTable,
)
_lock = threading.Lock()
_installed = False
_warned: set[str] = set()


class Placeholder(Handle, CloudFormationModel):
    """A resource of a type the target does not serve: created in name only."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "Rolecall::Placeholder"  # never named by a template; see resource_class_from_type

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """Any attribute reads as `<physical id>.<attribute>`: enough for a Ref or a Join."""
        return f"{self.physical_id}.{attribute_name}"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Placeholder:
        resource_type = kwargs.get("ResourceType", "")
        if resource_type not in NO_OP_TYPES:
            _warn_once(resource_type, kwargs.get("LogicalId", ""))
        return cls(f"rolecall-placeholder-{resource_name}")

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Placeholder, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Placeholder:
        """Still nothing to do; without this moto would drop the resource from the stack."""
        return original_resource


class ResourceFailed(Exception):
    """A resource of a stack could not be created; carries what the stack events show."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def install() -> None:
    """Register rolecall's models with moto's engine and wrap it; later calls change nothing."""
    global _installed
    with _lock:
        if _installed:
            return
        _register_models()
        _wrap_engine()
        dynamodb.install()  # AWS::DynamoDB::Table's ResourcePolicy (moto's model ignores it)
        _installed = True


def _register_models() -> None:
    """moto builds its type -> model map once from `CloudFormationModel.__subclasses__()`."""
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
    missing = [m.cloudformation_type() for m in _MODELS
               if parsing.get_model_map().get(m.cloudformation_type()) is not m]
    if missing:
        raise RuntimeError(f"CloudFormation models not registered with moto: {missing}")


def _wrap_engine() -> None:
    """Each wrapper replaces one moto function by name; moto calls them by that name."""
    parsing.resource_class_from_type = _served_or_placeholder(  # type: ignore[assignment]
        parsing.resource_class_from_type)
    parsing.parse_and_create_resource = _failing_with_reason(parsing.parse_and_create_resource)
    parsing.generate_resource_name = _iam_sized(  # type: ignore[assignment]
        parsing.generate_resource_name)
    parsing.ResourceMap.parse_ssm_parameter = _bootstrapped(  # type: ignore[method-assign]
        parsing.ResourceMap.parse_ssm_parameter)
    backend, stack = cfn_models.CloudFormationBackend, cfn_models.Stack
    stack.create_resources = _rolling_back_create(stack.create_resources)  # type: ignore[method-assign]
    backend.execute_change_set = _rolling_back_execute(backend.execute_change_set)  # type: ignore[method-assign]
    backend.create_stack = _checking_rules(backend.create_stack)  # type: ignore[method-assign]
    backend.create_change_set = _checking_rules(backend.create_change_set)  # type: ignore[method-assign]
    stack.stack_parameters = property(_given_parameters)  # type: ignore[method-assign,assignment]
    stack.has_parameters = _same_parameters  # type: ignore[method-assign,assignment]
    response = cfn_responses.CloudFormationResponse
    response._validate_different_update = _only_for_update_stack(  # type: ignore[method-assign]
        response._validate_different_update)


def _warn_once(resource_type: str, logical_id: str) -> None:
    with _lock:
        if resource_type in _warned:
            return
        _warned.add(resource_type)
    log.warning("CloudFormation: %s is not served by the embedded target; %s (and every later "
                "%s) is marked created with a placeholder physical id and does nothing",
                resource_type, logical_id, resource_type)


IAM_NAME_LIMIT = 64  # RoleName: 1-64 characters (IAM API reference, CreateRole)


def _iam_sized(original: Callable[[str, str, str], str]) -> Callable[[str, str, str], str]:
    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        name = original(resource_type, stack_name, logical_id)
        if resource_type != "AWS::IAM::Role" or len(name) <= IAM_NAME_LIMIT:
            return name
        front, suffix = name.rsplit("-", 1)
        return f"{front[: IAM_NAME_LIMIT - len(suffix) - 1]}-{suffix}"
    return generate_resource_name


def _served_or_placeholder(
    original: Callable[[str], type[CloudFormationModel]],
) -> Callable[[str], type[CloudFormationModel]]:
    def resource_class_from_type(resource_type: str) -> type[CloudFormationModel]:
        if resource_type in parsing.NULL_MODELS:
            return original(resource_type)
        if resource_type.startswith(SERVED_SERVICES) \
                and resource_type in parsing.get_model_map():
            return original(resource_type)
        return Placeholder

    return resource_class_from_type


def _failing_with_reason(original: Callable[..., Any]) -> Callable[..., Any]:
    """Name the resource that failed, and give moto's resources the stack's tags."""

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any],
                                  resources_map: Any, account_id: str, region_name: str) -> Any:
        resource_type = str(resource_json.get("Type", ""))
        try:
            resource = original(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceFailed:
            raise  # a resource this one refers to failed first: that one is the cause
        except Exception as error:
            raise ResourceFailed(logical_id, resource_type,
                                 failure_reason(error, resource_type)) from error
        _propagate_tags(resource, account_id, region_name, resources_map.stack_id)
        return resource

    return parse_and_create_resource


def _propagate_tags(resource: Any, account_id: str, region: str, stack_id: str) -> None:
    tags = stack_tags(account_id, region, stack_id)
    if not tags:
        return
    if isinstance(resource, Role):
        iam_backends[account_id]["aws"].tag_role(
            resource.name, [{"Key": k, "Value": v} for k, v in tags.items()])
    elif isinstance(resource, Table):
        dynamodb_backends[account_id][region].tag_resource(resource.table_arn, tags)


def _bootstrapped(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_ssm_parameter(self: parsing.ResourceMap, value: str, value_type: str) -> Any:
        if _BOOTSTRAP_PARAMETER.match(value):
            _ensure_bootstrap_parameter(self._account_id, self._region_name, value)
        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            raise ValidationError(message=f"Unable to fetch parameters [{value}] from parameter "
                                          "store for this account.")
        return original(self, value, value_type)

    return parse_ssm_parameter


def _ensure_bootstrap_parameter(account_id: str, region: str, name: str) -> None:
    """What `cdk bootstrap` leaves in SSM, so the CDK's BootstrapVersion parameter resolves."""
    backend = ssm_backends[account_id][region]
    if backend.get_parameter(name) is None:
        backend.put_parameter(name=name, description="CDK bootstrap version (rolecall emulator)",
                              value=BOOTSTRAP_VERSION, parameter_type="String",
                              allowed_pattern="", keyid="", overwrite=False, tags=[],
                              data_type="text", tier=None, policies=None)


def _checking_rules(original: Callable[..., Any]) -> Callable[..., Any]:
    """Rules hold before anything is created (the API call fails, as on AWS)."""

    def create(self: cfn_models.CloudFormationBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name") or kwargs.get("stack_name") or ""
        template, parameters = kwargs.get("template"), kwargs.get("parameters") or {}
        if isinstance(template, str):
            rules.check(cfn_models.Stack.parse_template(template), dict(parameters), name,
                        self.account_id, self.region_name)
        return original(self, *args, **kwargs)

    return create


def _given_parameters(stack: cfn_models.Stack) -> dict[str, Any]:
    """Parameter values as given (defaults filled in); SSM-typed ones keep their SSM name."""
    values = dict(stack.resource_map.resolved_parameters)
    slots = stack.resource_map._template.get("Parameters") or {}
    for key, slot in slots.items():
        if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::"):
            values[key] = stack.resource_map.input_parameters.get(key, slot.get("Default"))
    return values


def _same_parameters(stack: cfn_models.Stack, other_parameters: dict[str, Any]) -> bool:
    """Unchanged when every parameter has the value it had (omitted = default = previous)."""
    given = _given_parameters(stack)
    return all(given.get(key) == value for key, value in other_parameters.items())


def _only_for_update_stack(original: Callable[..., None]) -> Callable[..., None]:
    def validate_different_update(self: Any, incoming_params: Any, stack_body: str,
                                  old_stack: cfn_models.Stack) -> None:
        if self._get_action() == "CreateChangeSet":
            return  # the backend marks the change set FAILED: "didn't contain changes"
        original(self, incoming_params, stack_body, old_stack)

    return validate_different_update


def _rolling_back_create(original: Callable[[cfn_models.Stack], None]) -> Callable[..., None]:
    def create_resources(self: cfn_models.Stack) -> None:
        try:
            original(self)
        except ResourceFailed as failure:
            roll_back(self, failure, "CREATE")

    return create_resources


def _rolling_back_execute(original: Callable[..., None]) -> Callable[..., None]:
    def execute_change_set(self: cfn_models.CloudFormationBackend, change_set_name: str,
                           stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        assert change_set is not None  # moto raises ValidationError for an unknown one
        try:
            original(self, change_set_name, stack_name)
        except ResourceFailed as failure:
            roll_back(change_set.stack, failure, change_set.change_set_type)
            change_set.execution_status = "EXECUTE_FAILED"
            change_set.stack.template = change_set.template
            return
        _adopt_template(self, change_set.stack, change_set.template_dict)

    return execute_change_set


def _adopt_template(backend: cfn_models.CloudFormationBackend, stack: cfn_models.Stack,
                    template: dict[str, Any]) -> None:
    """After a change set ran, the stack has its template's outputs and exports.

    moto builds a stack's outputs when the stack object is made, which for a change
    set (what `aws cloudformation deploy` uses) is before the template is known, so
    DescribeStacks would show no Outputs and Fn::ImportValue would find no exports.
    """
    stack.template_dict = template
    stack.description = template.get("Description")
    stack.output_map = stack._create_output_map()
    for export in stack.exports:
        existing = backend.exports.get(export.name)
        if existing is not None and existing.exporting_stack_id != stack.stack_id:
            raise ValidationError(stack.stack_id,
                                  message="Export names must be unique across a given region")
        backend.exports[export.name] = export


def roll_back(stack: cfn_models.Stack, failure: ResourceFailed, action: str) -> None:
    """What CloudFormation does when a resource fails: events, delete what exists, final status.

    Updates are not undone (the emulator keeps no previous state): the stack ends
    UPDATE_ROLLBACK_FAILED, honestly, and must be deleted.
    """
    log.warning("CloudFormation: stack %s: %s failed: %s", stack.name, failure.logical_id,
                failure.reason)
    _resource_event(stack, failure.logical_id, failure.resource_type, f"{action}_FAILED",
                    failure.reason)
    prefix = "ROLLBACK" if action == "CREATE" else "UPDATE_ROLLBACK"
    stack._add_stack_event(f"{prefix}_IN_PROGRESS", resource_status_reason=(
        f"The following resource(s) failed to {action.lower()}: [{failure.logical_id}]. "
        "Rollback requested by user."))
    if action != "CREATE":
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event(stack.status, resource_status_reason=(
            "The embedded target cannot roll back an update: delete the stack."))
        return
    try:
        stack.resource_map.delete()
    except Exception as error:  # a resource that will not go: AWS says ROLLBACK_FAILED
        stack.status = "ROLLBACK_FAILED"
        stack._add_stack_event(stack.status, resource_status_reason=str(error))
        return
    # Nothing of the template exists any more: ListStackResources must not re-create it lazily.
    stack.resource_map._resource_json_map = {}
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status)


def _resource_event(stack: cfn_models.Stack, logical_id: str, resource_type: str, status: str,
                    reason: str) -> None:
    event = cfn_models.Event(stack_id=stack.stack_id, stack_name=stack.name,
                             logical_resource_id=logical_id, physical_resource_id="",
                             resource_type=resource_type, resource_status=status,
                             resource_status_reason=reason, resource_properties=None)
    stack.events.append(event)
