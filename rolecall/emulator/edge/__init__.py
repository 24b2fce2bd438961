"""The emulator's edge: what AWS's front end refuses before any service sees a request.

A client's mistake must come back as the called service's 4xx with a named
error, never as a 500. Two places make sure of it, both used by server.py:

- `screen(call, faults)`, before routing: the service and operation must exist, the
  SigV4 header must be complete and binding, the body must decode, and its
  members must have the types and meet the constraints of the operation's
  input shape in botocore's service model (plus DynamoDB's cross-table limits).
  One general check instead of a patch per handler: rolecall's handlers and
  moto only ever see requests of the right shape.
- `call_moto(...)` around moto and `as_aws_error(exc)` around rolecall's own
  handlers: what still fails is rendered in the service's protocol. Whatever
  moto raises on a request that passed the screen is moto not coping with a
  well-typed but meaningless value (an ARN it cannot split, a PartiQL statement
  or a number it cannot parse): the client's mistake, a 4xx naming the failure.
  An exception in rolecall's own handlers is the emulator's own failure: a 500
  InternalFailure that is logged.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Response

from rolecall.emulator.edge import dynamodb, query, shapes, signature
from rolecall.emulator.edge.services import Service, identify, operation_name
from rolecall.emulator.errors import AwsError, json_body, query_body
from rolecall.emulator.faults import Faults
from rolecall.emulator.wire import Call

__all__ = ["as_aws_error", "call_moto", "error_response", "screen"]

log = logging.getLogger("rolecall.emulator")

MAX_JSON_DEPTH = 100  # far above any shape's real nesting (DynamoDB allows 32 levels of M/L)
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


def screen(call: Call, faults: Faults) -> None:
    """Raise the AwsError AWS would answer `call` with, if it is malformed; else return."""
    svc = identify(call)
    if svc is None:
        _screen_unaddressed(call)
        return  # none of the five services (control endpoints, JWKS, moto's own endpoints)
    name = operation_name(call, svc)
    operation = svc.operation(name)
    if operation is None:
        raise _unknown_operation(call, svc, name)
    if svc.protocol == "query":
        _screen_version(call, svc, name)
    signature.check(call, svc, needs_signature=operation.auth_type != "none")
    if svc.protocol == "query":
        _raise_problems(svc, query.check(operation.input_shape, _checked_form(call, faults)))
        return
    body = _decode(call, svc)
    _raise_problems(svc, shapes.check(operation.input_shape, body, svc.camel_paths))
    if svc.name == "dynamodb":
        dynamodb.check(name, body)


def _checked_form(call: Call, faults: Faults) -> dict[str, str]:
    """The query form the model check reads. Two near-miss faults hide DurationSeconds from
    it: an STS that does not check its own range, 900..43200 (SPEC C8), below or above."""
    raw = call.form.get("DurationSeconds", "")
    if call.operation != "AssumeRoleWithWebIdentity" or not raw.lstrip("-").isdigit():
        return call.form
    seconds = int(raw)
    if (seconds < 900 and faults.on("sts-duration-minimum-unchecked")) or (
            seconds > 43200 and faults.on("sts-duration-maximum-unchecked")):
        return {name: value for name, value in call.form.items() if name != "DurationSeconds"}
    return call.form


def _screen_unaddressed(call: Call) -> None:
    """An unsigned API call (POST /) that names none of the services: no known target or Action.

    On AWS every service has its own host, so such a call still reaches one and is
    refused there; on this one port moto would guess, and answered S3's bucket list.
    """
    if call.method != "POST" or call.path != "/":
        return
    if call.signing_service:
        return  # signed for a service moto serves beyond the five
    if "json" in call.headers.get("Content-Type", ""):
        raise AwsError("UnknownOperationException", "The request has no X-Amz-Target")
    action = call.form.get("Action")
    if action:
        raise AwsError("InvalidAction", f"Could not find operation {action}")
    raise AwsError("MissingAction", "The request must contain the parameter Action")


def _unknown_operation(call: Call, svc: Service, name: str) -> AwsError:
    if svc.protocol == "json":
        return AwsError(svc.codes.unknown_operation,
                        f"The operation {call.target or '(no X-Amz-Target)'} is not known to "
                        f"{svc.model.metadata['serviceId']}")
    if not name:
        return AwsError("MissingAction", "The request must contain the parameter Action")
    return AwsError(svc.codes.unknown_operation,
                    f"Could not find operation {name} for version "
                    f"{call.form.get('Version', svc.model.api_version)}")


def _screen_version(call: Call, svc: Service, name: str) -> None:
    """A query call names the API version; AWS knows an Action only in its own version."""
    version = call.form.get("Version")
    if version is not None and version != svc.model.api_version:
        raise AwsError(svc.codes.unknown_operation,
                       f"Could not find operation {name} for version {version}")


def _decode(call: Call, svc: Service) -> Any:
    """The awsJson body: a JSON object of bounded depth, or SerializationException."""
    try:
        body = json.loads(call.body or b"{}", parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AwsError("SerializationException", "The request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise AwsError("SerializationException", "The request body must be a JSON object")
    if shapes.json_depth(body) > MAX_JSON_DEPTH:
        raise AwsError("SerializationException",
                       f"The request body nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def _no_constant(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's parser accepts them unless told otherwise."""
    raise ValueError(f"{name} is not a JSON value")


def _raise_problems(svc: Service, problems: list[shapes.Problem]) -> None:
    """The first type problem as a deserialization error, else AWS's 'N validation errors' text."""
    if not problems:
        return
    wrong = [problem for problem in problems if problem.wrong_type]
    if wrong:
        raise AwsError(svc.codes.wrong_type, f"Invalid type for parameter {wrong[0].path or 'body'}: "
                       f"{wrong[0].text}")
    count = len(problems)
    details = "; ".join(f"Value {_shown(svc, problem)}at '{problem.path}' failed to satisfy "
                        f"constraint: {problem.text}" for problem in problems)
    raise AwsError(svc.codes.invalid,
                   f"{count} validation error{'s' if count > 1 else ''} detected: {details}")


def _shown(svc: Service, problem: shapes.Problem) -> str:
    """What AWS's text quotes of the offending value: null, the value (STS), or nothing."""
    if "null" in problem.text:
        return "null "
    return f"'{problem.value}' " if problem.value is not None and svc.quotes_values else ""


def as_aws_error(call: Call, exc: BaseException, origin: str) -> AwsError:
    """What an exception escaping a service means for the client (see module docstring)."""
    svc = identify(call)
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, RecursionError):
        return AwsError("SerializationException", "The request nests too deeply to be read")
    if isinstance(exc, NotImplementedError):  # moto: an operation or option it does not serve
        code = svc.codes.unknown_operation if svc else "UnknownOperationException"
        return AwsError(code, f"The embedded target does not implement {call.operation or 'this call'}")
    if origin == "moto":
        log.debug("moto refused %s: %r", call.operation, exc)
        code = svc.codes.not_processable if svc else "ValidationException"
        return AwsError(code, f"Invalid request for {call.operation or 'this call'}: "
                        f"{type(exc).__name__} while reading its parameters")
    log.error("emulator failure on %s %s\n%s", call.method, call.operation,
              "".join(traceback.format_exception(exc)))
    return AwsError("InternalFailure", "The emulator failed to process the request", 500)


def error_response(call: Call, error: AwsError) -> Response:
    """`error` rendered in the protocol of the service `call` addressed."""
    svc = identify(call)
    form = "x-www-form-urlencoded" in call.headers.get("Content-Type", "") or call.form.get("Action")
    if (svc is not None and svc.protocol == "query") or (svc is None and not call.target and form):
        return Response(query_body(error), error.status, content_type="text/xml")
    response = Response(json_body(error), error.status, content_type=JSON_CONTENT_TYPE)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


StartResponse = Callable[..., Any]


def call_moto(moto: Callable[..., Iterable[bytes]], call: Call, environ: dict[str, Any],
              start_response: StartResponse) -> Iterable[bytes]:
    """moto's answer, with anything it raises, or a 5xx it renders, turned into an AWS error."""
    captured: list[Any] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured[:] = [status, headers, exc_info]
        return lambda data: None  # moto (Flask) never uses write()

    try:
        chunks = list(moto(environ, capture))  # moto renders the whole response here
    except Exception as exc:
        return error_response(call, as_aws_error(call, exc, "moto"))(environ, start_response)
    status, headers, exc_info = captured
    if int(status.split(" ", 1)[0]) >= 500:
        error = as_aws_error(call, RuntimeError(f"moto answered {status}"), "moto-status")
        return error_response(call, error)(environ, start_response)
    start_response(status, headers, exc_info)
    return chunks
