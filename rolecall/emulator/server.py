"""The embedded target's HTTP front: one port, every service, like moto server.

Each request is read once into a `Call` and routed:

- `/_rolecall/...`             the emulator's control endpoints (health, clock)
- every AWS API call          first the authorization step (authorization.py):
                               exact operation, unsigned calls only to public
                               operations, issued sessions SigV4-verified and
                               IAM-authorized on every service; then:
- cognito-identity (any call)  rolecall's own identity-pool service
- STS AssumeRoleWithWebIdentity, and GetCallerIdentity signed by an issued session
                               rolecall's own STS
- everything else              moto (DynamoDB data, IAM, cognito-idp, admin calls);
                               CloudFormation is moto's engine with rolecall's resource
                               types (rolecall.emulator.cloudformation)

Every request passes the edge first (rolecall.emulator.edge): malformed ones are
refused there with the called service's 4xx. Errors from rolecall's services
are `AwsError`s rendered in the called service's protocol; what moto raises is
mapped at the edge too; an unexpected exception becomes an AWS-shaped
InternalFailure (and is logged), never a hang.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import moto.core.responses as moto_responses
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Request, Response

from rolecall.emulator import authorization, clock, cloudformation, edge
from rolecall.emulator.cognitoidentity import oidc as cognito_identity_oidc
from rolecall.emulator.cognitoidentity import responses as cognito_identity
from rolecall.emulator.dynamodb import batches, partiql
from rolecall.emulator.errors import AwsError
from rolecall.emulator.state import ACCOUNT_ID, CURRENT, EmulatorState, Session
from rolecall.emulator.sts import responses as sts
from rolecall.emulator.wire import Call

StartResponse = Callable[..., Any]

COGNITO_IDENTITY_PREFIX = "AWSCognitoIdentityService."
JSON_1_0 = "application/x-amz-json-1.0"
JSON_1_1 = "application/x-amz-json-1.1"


def _remember_moto_method_names() -> None:
    """moto lists a response class's methods with inspect.getmembers on every request, to
    find the one the action names: a twelfth of the endpoint's time per call. A class's
    methods do not change while the process runs, so the list is kept per class."""
    listed = moto_responses.method_names_from_class
    if not hasattr(listed, "cache_info"):  # not yet remembered (one emulator per process or more)
        moto_responses.method_names_from_class = functools.cache(listed)


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher with its backend lookup remembered per host.

    moto finds a request's backend by listing its own package folder (os.listdir and
    an isdir per module, about 150) on every request, under one lock: a sixth of the
    endpoint's time per call, and every concurrent call waits for it. The answer for a
    host never changes while the process runs."""

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class EmulatorApp:
    """WSGI application: rolecall's services in front of moto's."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.moto = _Dispatcher()
        _remember_moto_method_names()
        partiql.install()
        batches.install()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data(cache=True)
        call = Call(
            method=request.method,
            scheme=request.scheme,
            host=request.host,
            path=request.path,
            query_string=request.query_string.decode(),
            headers=request.headers,
            body=body,
            environ=environ,
        )
        self.state.count(call.signing_service or _unsigned_service(call), call.operation)
        response = self.handle(call)
        if response is None:  # not ours: moto serves it from the same bytes
            if call.signing_service == "cloudformation":
                cloudformation.install()  # rolecall's resource types, on first use
            if call.signing_service == "dynamodb":
                body = partiql.for_moto(call.operation, body)  # AWS's index form, moto's way
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            token = CURRENT.set(self.state)
            try:
                return edge.call_moto(self.moto, call, environ, start_response)
            finally:
                CURRENT.reset(token)
        return response(environ, start_response)

    def handle(self, call: Call) -> Response | None:
        """Route one call; None means "let moto answer"."""
        try:
            edge.screen(call, self.state.faults)  # a malformed request never reaches a service (see edge)
            return self._route(call)
        except Exception as exc:  # AWS-shaped, whatever failed: 4xx for the client's mistakes
            return edge.error_response(call, edge.as_aws_error(call, exc, "rolecall"))

    def _route(self, call: Call) -> Response | None:
        if call.path.startswith("/_rolecall/"):
            return self._control(call)
        # the one authorization step: exact operation, signature, IAM for issued sessions
        session = authorization.authorize(self.state, call)
        early = self._realism(call, session)  # AWS's conditions, when switched on (realism/)
        if early is not None:
            return early
        if call.target.startswith(COGNITO_IDENTITY_PREFIX):
            result = cognito_identity.handle(self.state, call)
            return Response(json.dumps(result), 200, content_type=JSON_1_1)
        if call.operation == "AssumeRoleWithWebIdentity" and not call.target:
            return Response(sts.handle(self.state, call), 200, content_type="text/xml")
        if session is not None and call.operation == "GetCallerIdentity" and not call.target:
            return Response(sts.handle(self.state, call), 200, content_type="text/xml")
        return None  # authorized (or the admin's): moto serves it

    def _realism(self, call: Call, session: Session | None) -> Response | None:
        """Throttling, propagation and table states (rolecall/emulator/realism/), opt-in."""
        if not self.state.realism.parts or not call.operation:
            return None
        service = call.signing_service or _unsigned_service(call)
        params: dict[str, object] = call.json() if call.target else dict(call.form)
        answer = self.state.realism.gate(service, call.operation, params,
                                         ACCOUNT_ID, call.region, session)
        return None if answer is None else Response(json.dumps(answer), 200,
                                                    content_type=JSON_1_0)

    def _control(self, call: Call) -> Response:
        """Emulator-only endpoints. They exist only here, never on AWS."""
        if call.path == "/_rolecall/health":
            return Response(json.dumps({"ok": True}), 200, content_type="application/json")
        if call.path == "/_rolecall/stats":  # AWS API calls served, per service.Operation
            return Response(json.dumps({"requests": self.state.request_counts()}), 200,
                            content_type="application/json")
        if call.path == "/_rolecall/cognito-identity/.well-known/jwks.json":
            # the public key of GetOpenIdToken's tokens (AWS: cognito-identity.amazonaws.com)
            return Response(json.dumps(cognito_identity_oidc.oidc_jwks()), 200,
                            content_type="application/json")
        if call.path == "/_rolecall/clock" and call.method == "POST":
            # {"advance": seconds[, "scope": user pool or identity pool id]}: with a scope,
            # only that pool's ID tokens or sessions age (see Clock); without, all of time.
            body = call.json()
            seconds, scope = body.get("advance", 0), body.get("scope")
            if not clock.is_duration(seconds):  # NaN or inf would stop (or break) time for good
                raise AwsError("ValidationException", "advance must be a finite, non-negative number")
            if scope is not None and not isinstance(scope, str):
                raise AwsError("ValidationException", "scope must be a pool id (a string)")
            self.state.clock.advance(float(seconds), scope)
            return Response(json.dumps({"now": self.state.clock.now(scope)}), 200,
                            content_type="application/json")
        raise AwsError("UnknownOperationException", f"no control endpoint {call.path}", 404)


def _unsigned_service(call: Call) -> str:
    """The service of an unsigned call (sign-in, GetId, web identity), from its target."""
    if call.target.startswith(COGNITO_IDENTITY_PREFIX):
        return "cognito-identity"
    if call.target.startswith("AWSCognitoIdentityProviderService."):
        return "cognito-idp"
    return "sts" if call.form.get("Action") else "unsigned"
