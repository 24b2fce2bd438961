"""The one authorization step every AWS API call goes through, before any service serves it.

In AWS's order:

1. Which operation is it? Matched exactly against botocore's models: an
   `X-Amz-Target` whose prefix differs only in case (`dynamodb_20120810.PutItem`)
   or an operation the service does not have is UnknownOperationException (awsJson);
   an unknown query `Action` is InvalidAction. A near-miss is never passed on to
   moto, which matches names loosely.
2. Public operations (botocore's `"authtype": "none"`: sign-in, GetId,
   GetCredentialsForIdentity, AssumeRoleWithWebIdentity...) need no signature and
   no permission. Every other unsigned call is refused: MissingAuthenticationTokenException
   "Request is missing Authentication Token" (awsJson, field: DynamoDB,
   amazon-archives/aws-dynamodb-session-tomcat#42) or MissingAuthenticationToken,
   HTTP 403 (awsQuery: IAM and STS common errors,
   https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
3. Who signed? A key the emulator issued is a session: its SigV4 signature is
   verified (rolecall/emulator/sigv4.py) and every check of the operation
   (rolecall/emulator/iam/actions.py) is evaluated by the one evaluator
   (rolecall/emulator/iam/evaluation.py) against every policy type that applies: the
   session role's identity policies, its permissions boundary, the session policies
   and the resource-based policy of the resource (a DynamoDB table's,
   rolecall/emulator/dynamodb/resource_policies.py).
   A temporary key it never issued is an invalid token. Any long-term key is the
   account's admin, or bound by the runner policy when one is given (see `Caller`).
4. A refusal is the called service's own: DynamoDB, cognito-idp and
   cognito-identity AccessDeniedException (400, JSON), IAM and STS AccessDenied
   (403, XML), worded "User: <session ARN> is not authorized to perform: <action>
   on resource: <resource> because no identity-based policy allows the <action> action",
   naming the policy type that decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rolecall.emulator import sigv4
from rolecall.emulator.checks import Check
from rolecall.emulator.dynamodb import resource_policies
from rolecall.emulator.errors import AwsError
from rolecall.emulator.faults import Faults
from rolecall.emulator.iam import actions, evaluation, implied, roles
from rolecall.emulator.iam.evaluation import Decision, Policies, Principal, Verdict
from rolecall.emulator.state import ACCOUNT_ID, EmulatorState, Session
from rolecall.emulator.wire import Call

__all__ = ["Caller", "Operation", "authorize", "denial_message", "identify"]

MISSING_TOKEN = "Request is missing Authentication Token"
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Operation:
    """An API call, identified: `service` is None for a service the emulator does not model."""

    service: str | None
    name: str
    protocol: str  # "json" (X-Amz-Target) or "query" (Action=)


@dataclass(frozen=True)
class Caller:
    """Who signed a call and what bounds them.

    `identity_policies` None means unrestricted: long-term keys are the account's
    admin unless the emulator was started with a runner policy (`--runner-policy`),
    which then binds every long-term key (`_long_term_caller`). `role_arn` is the role
    behind a session (None for the runner, an IAM user); `boundary` the default version
    of the role's permissions boundary, None when it has none.
    """

    arn: str
    account: str
    identity_policies: Sequence[Mapping[str, Any]] | None
    session_policies: Sequence[Mapping[str, Any]] = ()
    context: Mapping[str, list[str]] = field(default_factory=dict)
    role_arn: str | None = None
    boundary: Mapping[str, Any] | None = None

    @property
    def principal(self) -> Principal:
        return Principal(self.arn, self.account, self.role_arn)


# Any long-term key: the account's admin, unrestricted, unless a runner policy is attached.
ADMIN = Caller(arn="", account="", identity_policies=None)
RUNNER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/rolecall-runner"
PRINCIPAL_TAG_PREFIX = "aws:principaltag/"


def authorize(state: EmulatorState, call: Call) -> Session | None:
    """Refuse the call as AWS would, or return; the issued session behind it, if any."""
    operation = identify(call)
    if operation is None:
        return None  # not an AWS API call (moto's own pages, a user pool's JWKS)
    rule = actions.rule_for(operation.service, operation.name) if operation.service else None
    if rule is not None and rule.public:
        return None
    if call.access_key_id is None:
        raise _missing_token(operation)
    _check_scope(call, operation)
    session = state.find_session(call.access_key_id)
    if session is None:
        _refuse_unknown_temporary_key(call, operation)
        caller = _long_term_caller(state)
    else:
        sigv4.verify(call, session, state)
        caller = _session_caller(session, call, state)
    _evaluate(state, call, operation, rule, caller)
    return session


def identify(call: Call) -> Operation | None:
    """The operation, matched exactly; None when the request is not an AWS API call."""
    if call.target:
        return _identify_json(call)
    action = call.form.get("Action")
    if not action:
        return None
    if call.access_key_id is None:  # unsigned: the service whose model has this exact Action
        service = next((name for name in actions.query_services()
                        if actions.rule_for(name, action)), None)
        return Operation(service, action, "query")
    service = call.signing_service if call.signing_service in actions.query_services() else None
    if service is not None and actions.rule_for(service, action) is None:
        raise AwsError("InvalidAction", f"Could not find operation {action} for {service}")
    return Operation(service, action, "query")


def _identify_json(call: Call) -> Operation:
    prefix, _, name = call.target.rpartition(".")
    prefixes = actions.target_prefixes()
    service = prefixes.get(prefix)
    if service is None and prefix.lower() not in {known.lower() for known in prefixes}:
        return Operation(None, name, "json")  # another moto service: checked generically
    if service is None or actions.rule_for(service, name) is None:
        raise AwsError("UnknownOperationException", f"Unknown operation {call.target}")
    return Operation(service, name, "json")


def _missing_token(operation: Operation) -> AwsError:
    if operation.protocol == "query":
        return AwsError("MissingAuthenticationToken", MISSING_TOKEN, 403)
    return AwsError("MissingAuthenticationTokenException", MISSING_TOKEN, 400)


def _check_scope(call: Call, operation: Operation) -> None:
    """A call signed for another service is refused, as AWS does: moto would route it by
    the signature's service and serve an operation nobody authorized."""
    if operation.protocol != "json" or operation.service is None:
        return  # awsQuery calls are identified by their signing service already
    if call.signing_service != operation.service:
        raise AwsError("InvalidSignatureException",
                       f"Credential should be scoped to correct service: '{operation.service}'.")


def _refuse_unknown_temporary_key(call: Call, operation: Operation) -> None:
    """A temporary (ASIA...) key this endpoint never issued is not an admin key.

    Ones from another endpoint, from before a restart, or minted by moto's own
    STS would otherwise pass as admin and turn every DENIED into ALLOWED. AWS
    answers them as invalid tokens, in each service's code.
    """
    if not (call.access_key_id or "").startswith("ASIA"):
        return
    if operation.protocol == "query":
        raise AwsError("InvalidClientTokenId", INVALID_TOKEN, 403)
    raise AwsError("UnrecognizedClientException", INVALID_TOKEN)


def _long_term_caller(state: EmulatorState) -> Caller:
    """A long-term key: the admin, or bound by the runner policy (`--runner-policy FILE`)."""
    if state.runner_policies is None:
        return ADMIN
    return Caller(arn=RUNNER_ARN, account=ACCOUNT_ID, identity_policies=state.runner_policies,
                  context={"aws:PrincipalArn": [RUNNER_ARN], "aws:PrincipalAccount": [ACCOUNT_ID]})


def _session_caller(session: Session, call: Call, state: EmulatorState) -> Caller:
    role = roles.find_role(session.role_arn)
    account = session.role_arn.split(":")[4]
    context = {key: list(values) for key, values in session.context.items()}
    context.setdefault("aws:PrincipalArn", [session.role_arn])  # a role's ARN, not the session's
    context.setdefault("aws:PrincipalAccount", [account])
    context.setdefault("aws:PrincipalType", ["AssumedRole"])
    context.setdefault("aws:RequestedRegion", [call.region])
    # Always in AWS's request context: a number and a Bool, so Numeric* and Bool conditions
    # have keys to read (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html,
    # aws:EpochTime and aws:ViaAWSService)
    context.setdefault("aws:EpochTime", [str(int(state.clock.now()))])
    context.setdefault("aws:ViaAWSService", ["false"])  # always there; false: a direct call
    if role is not None:
        _add_role_tags(context, roles.role_tags(role))
    return Caller(
        arn=session.assumed_role_arn,
        account=account,
        identity_policies=roles.identity_policies(role) if role is not None else [],  # deleted
        session_policies=list(session.session_policies),
        context=context,
        role_arn=session.role_arn,
        boundary=roles.boundary_policy(
            role, newest=state.faults.on("boundary-non-default-version"))
        if role is not None else None,
    )


def _add_role_tags(context: dict[str, list[str]], tags: Mapping[str, str]) -> None:
    """The role's IAM tags are principal tags of its sessions too; a session tag with the same
    key (case-insensitive) overrides the role tag (STS API reference, AssumeRoleWithWebIdentity:
    "the session tag overrides the role tag with the same key")."""
    present = {key.lower() for key in context if key.lower().startswith(PRINCIPAL_TAG_PREFIX)}
    for key, value in tags.items():
        name = f"aws:PrincipalTag/{key}"
        if name.lower() not in present:
            context[name] = [value]


def _evaluate(state: EmulatorState, call: Call, operation: Operation,
              rule: actions.Rule | None, caller: Caller) -> None:
    """Every check of the call against the caller's policies; the first refusal is raised."""
    if caller.identity_policies is None:
        return  # unrestricted (the admin's long-term keys)
    if operation.service == "iam" and state.faults.on("authz-iam-unchecked"):
        return  # fault: IAM calls by sessions are served unchecked
    if (rule is not None and rule.plane == "control"
            and state.faults.on("authz-control-plane-unchecked")):
        return  # fault: DynamoDB's control plane (DeleteTable...) is served unchecked
    refused: list[tuple[Check, Verdict]] = []
    for check in _checks(state, call, operation, rule, caller):
        policies = Policies(caller.identity_policies, caller.boundary, caller.session_policies,
                            resource_policies.policy_for(check.resource, state.faults))
        verdict = evaluation.decide(check.action, check.resource,
                                    {**caller.context, **check.context}, caller.principal,
                                    policies, state.faults)
        if verdict.decision is not Decision.ALLOW:
            refused.append((check, verdict))
            if not state.faults.on("text-denial-last-check"):  # fault: reports the last one
                break
        if caller.arn == RUNNER_ARN:
            state.runner_actions.add(check.action.lower())  # what the runner policy is used for
    if refused:  # AWS names the first check it refuses (SPEC D4)
        check, verdict = refused[-1]
        code, status = _denied_code(operation)
        raise AwsError(code, denial_message(caller.arn, check, verdict, state.faults), status)


def _checks(state: EmulatorState, call: Call, operation: Operation,
            rule: actions.Rule | None, caller: Caller) -> list[Check]:
    if rule is None or operation.service is None:
        # a service the emulator does not model: its generic action on everything
        return [Check(f"{call.signing_service}:{operation.name}", "*")]
    params = call.json() if operation.protocol == "json" else call.form
    request = actions.Request(operation.service, operation.name, params, caller.account,
                              call.region, state.faults)
    return actions.checks_for(rule, request) + implied.checks_for(request)


def _denied_code(operation: Operation) -> tuple[str, int]:
    service = actions.SERVICES.get(operation.service or "")
    if service is not None:
        return service.denied_code, service.denied_status
    return ("AccessDenied", 403) if operation.protocol == "query" else ("AccessDeniedException", 400)


def denial_message(principal: str, check: Check, verdict: Verdict,
                   faults: Faults | None = None) -> str:
    """AWS's AccessDenied text (SPEC D4, B2; https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).

    Implicit: "... because no identity-based policy allows the dynamodb:PutItem action"
    (seed 002), "... because no session policy allows ...", "... because no permissions
    boundary allows ..."; explicit: "... with an explicit deny in an identity-based
    policy", "... in a session policy", "... in a permissions boundary", "... in a
    resource-based policy". AWS now also appends ": <policy ARN>" to some (security blog,
    "Enhanced access denied error messages with policy ARNs", 2026); rolecall does not.
    """
    faults = faults or Faults()
    if faults.on("text-denial-role-arn") and ":assumed-role/" in principal:
        account, role = principal.split(":")[4], principal.split("/")[1]
        principal = f"arn:aws:iam::{account}:role/{role}"
    resource = check.resource_text
    if faults.on("text-denial-table-name"):
        resource = resource.split(":table/", 1)[-1]
    head = f"User: {principal} is not authorized to perform: {check.action} on resource: {resource}"
    if verdict.decision is Decision.EXPLICIT_DENY \
            and not faults.on("text-denial-explicit-as-implicit"):
        noun = verdict.noun
        article = "an" if noun[0] in "aeiou" else "a"
        return f"{head} with an explicit deny in {article} {noun}"
    if verdict.policy_type == evaluation.BOUNDARY and faults.on("text-denial-boundary-as-identity"):
        verdict = Verdict(verdict.decision, evaluation.IDENTITY)  # fault: the wrong type named
    return f"{head} because no {verdict.noun} allows the {check.action} action"
