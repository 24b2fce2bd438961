"""Which of the five services a raw request is for, and how that service names its errors.

The botocore service models (shipped with every boto3 install) are the source:
target prefixes, operation names, API versions, input shapes and their
constraints. The error codes per service are not in the models; they are AWS's
documented common errors (see docs/semantics.md, "Malformed requests").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

from rolecall.emulator.wire import Call

JSON_SERVICES = ("dynamodb", "cognito-identity", "cognito-idp")
QUERY_SERVICES = ("sts", "iam")


@dataclass(frozen=True)
class Codes:
    """The error codes one service answers a malformed request with."""

    wrong_type: str          # a member of the wrong type / undecodable body
    invalid: str             # a constraint the input shape states (required, length, range, enum)
    unknown_operation: str   # target or Action the service does not have
    incomplete_signature: str
    bad_signature: str
    bad_signature_status: int
    not_processable: str     # the backend choked on the input (see edge.call_moto)
    missing_authentication: str
    missing_authentication_status: int


_JSON_CODES = Codes("SerializationException", "ValidationException", "UnknownOperationException",
                    "IncompleteSignatureException", "InvalidSignatureException", 400,
                    "ValidationException", "MissingAuthenticationTokenException", 400)
_COGNITO_CODES = Codes("InvalidParameterException", "InvalidParameterException",
                       "UnknownOperationException", "IncompleteSignatureException",
                       "InvalidSignatureException", 400, "InvalidParameterException",
                       "MissingAuthenticationTokenException", 400)
_QUERY_CODES = Codes("ValidationError", "ValidationError", "InvalidAction", "IncompleteSignature",
                     "SignatureDoesNotMatch", 403, "InvalidParameterValue",
                     "MissingAuthenticationToken", 403)


@dataclass(frozen=True)
class Service:
    """One service the emulator serves: its botocore model and its error vocabulary."""

    name: str
    model: ServiceModel
    codes: Codes

    @property
    def protocol(self) -> str:
        """'json' or 'query', as the model says (the wire format of requests and errors)."""
        return "query" if self.model.protocol == "query" else "json"

    @property
    def camel_paths(self) -> bool:
        """AWS's validation texts name members lowerCamel ('tableName'); rolecall's
        cognito handlers name them as the model does ('IdentityPoolId'), and the edge
        follows them so a message does not depend on which layer caught the mistake."""
        return not self.name.startswith("cognito")

    @property
    def quotes_values(self) -> bool:
        """STS quotes the number that broke a range: "Value '899' at 'durationSeconds' failed
        to satisfy constraint ..." (field: goldstack/goldstack #425, ruimarinho/gsts
        credentials-manager.test.js); IAM does not ("Value at 'maxSessionDuration' ...",
        boto/botocore #3337)."""
        return self.name == "sts"

    def operation(self, name: str) -> OperationModel | None:
        """The operation model, or None when the service has no such operation (case matters)."""
        return self.model.operation_model(name) if name in _operation_names(self.name) else None


@cache
@cache
def service(name: str) -> Service:
    """The Service for a botocore service name, built once per process: a fresh
    ServiceModel per request would resolve its shapes again on every call."""
    model = botocore.session.get_session().get_service_model(name)
    codes = _QUERY_CODES if name in QUERY_SERVICES else (
        _COGNITO_CODES if name.startswith("cognito") else _JSON_CODES)
    return Service(name, model, codes)


@cache
def _operation_names(name: str) -> frozenset[str]:
    return frozenset(service(name).model.operation_names)


def identify(call: Call) -> Service | None:
    """The service `call` is addressed to, or None when it names none of the five.

    awsJson calls name it by their X-Amz-Target prefix (compared case-insensitively,
    so a lower-cased target still reaches its service and is refused there); query
    calls by the SigV4 credential scope, or by their exact Action when unsigned.
    Calls signed for any other service are moto's (CloudFormation, for one).
    """
    signing = (call.signing_service or "").lower()
    if call.target:
        prefix = call.target.split(".", 1)[0].lower()
        for name in JSON_SERVICES:
            if service(name).model.metadata["targetPrefix"].lower() == prefix:
                return service(name)
        return service(signing) if signing in JSON_SERVICES + QUERY_SERVICES else None
    if signing in JSON_SERVICES + QUERY_SERVICES:
        return service(signing)
    action = call.form.get("Action")
    if signing or action is None:
        return None  # signed for another service (CloudFormation...), or not a query call
    for name in QUERY_SERVICES:  # unsigned: the service that has this exact Action
        if action in _operation_names(name):
            return service(name)
    return None


def operation_name(call: Call, svc: Service) -> str:
    """The operation the call asks for: the target's suffix, or the query Action."""
    if svc.protocol == "json":
        prefix, _, name = call.target.partition(".")
        return name if prefix == svc.model.metadata["targetPrefix"] else ""
    return call.form.get("Action", "")
