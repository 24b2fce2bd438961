"""A corpus of malformed requests, generated from botocore's own service models.

`requests(world)` is a hypothesis strategy: it picks one of the five services
and one of its operations, draws an input that fits the operation's input
shape (members of the right type, strings within their lengths, enum values;
names of the test's real table, pools and role now and then, so moto reaches
the code that reads items and resources), then spoils it with one flaw (or
none) and signs it with the admin keys, with keys of an issued session, or not
at all. `Wire` says how the emulator must answer each: a 4xx in the service's
error shape, or (for a request without a flaw a client would have caught) a
well-formed 2xx.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.serialize import create_serializer
from hypothesis import strategies as st

SERVICES = ("dynamodb", "cognito-identity", "cognito-idp", "sts", "iam")
VARIANTS = 10  # requests per drawn input
MAX_DEPTH = 3  # input values nest at most this deep (DynamoDB attribute values are recursive)
# Flaws every service must refuse, whatever the signer.
JSON_FLAWS = ("wrong-type", "missing-required", "deep-nesting", "null-body", "non-json-body",
              "array-body", "nan-body", "unknown-target", "lower-cased-target", "no-target")
QUERY_FLAWS = ("wrong-type", "missing-required", "unknown-action", "lower-cased-action",
               "unknown-version", "no-action")
SIGNATURE_FLAWS = ("garbage-authorization", "header-added-after-signing")
# Flaws that may still be answered 2xx (AWS ignores unknown members; a long string is
# refused only where the model caps it; admin keys of any secret are the admin's).
HARMLESS = ("none", "extra-member", "oversized-string", "unicode-string", "wrong-secret")
GARBAGE_AUTHORIZATION = ("garbage", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=x",
                         "Bearer abc.def", "AWS AKIAXXXX:c2lnbmF0dXJl",
                         "AWS4-HMAC-SHA256 Credential=AK/2020/r/s/aws4_request, "
                         "SignedHeaders=host, Signature=zz")


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class World:
    """What the corpus signs with and points at: real names make moto go deeper."""

    host: str
    admin: Keys
    session: Keys
    names: dict[str, str] = field(default_factory=dict)  # member name -> a real resource's name


@dataclass(frozen=True)
class Wire:
    """One request as it goes on the wire, and what its answer must be."""

    service: str
    operation: str
    flaw: str
    signer: str
    headers: dict[str, str]
    body: bytes
    must_fail: bool

    @property
    def protocol(self) -> str:
        return model(self.service).protocol


@cache
def model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


# ---------------------------------------------------------------------------
# Values that fit a shape
# ---------------------------------------------------------------------------

def _length(shape: Shape, default_max: int) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    return low, max(low, min(int(shape.metadata.get("max", default_max)), low + default_max))


@cache
def _string(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                   min_size=low, max_size=high)


Names = tuple[tuple[str, str], ...]
_STRATEGIES: dict[tuple[str, str, int, Names], st.SearchStrategy[Any]] = {}


def value(service: str, shape: Shape, names: Names, depth: int = 0) -> st.SearchStrategy[Any]:
    """A JSON-ready value of `shape` (blobs base64, timestamps epoch seconds); built once per shape."""
    key = (service, shape.name, depth, names)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _build(service, shape, names, depth)
    return _STRATEGIES[key]


def _build(service: str, shape: Shape, names: Names, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if depth > MAX_DEPTH + 2:  # a recursive shape whose members are all required: stop here
        return st.just({} if kind in ("structure", "map") else [] if kind == "list" else "x")
    if kind == "structure":
        return _structure(service, shape, names, depth)
    if kind == "list" and isinstance(shape, ListShape):
        low, high = _length(shape, 2 if depth < MAX_DEPTH else 0)
        if high == 0:
            return st.just([])
        return st.lists(value(service, shape.member, names, depth + 1), min_size=low, max_size=high)
    if kind == "map" and isinstance(shape, MapShape):
        low, high = _length(shape, 2 if depth < MAX_DEPTH else 0)
        if high == 0:
            return st.just({})
        return st.dictionaries(value(service, shape.key, names, depth + 1),
                               value(service, shape.value, names, depth + 1), min_size=low, max_size=high)
    if kind == "string":
        return st.sampled_from(shape.enum) if shape.enum else _string(*_length(shape, 12))
    if kind in ("integer", "long"):
        return st.integers(int(shape.metadata.get("min", -(2**31))), int(shape.metadata.get("max", 2**31)))
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=16).map(lambda data: base64.b64encode(data).decode())
    if kind == "timestamp":
        return st.integers(0, 2**31)
    return st.none()


def _structure(service: str, shape: Shape, names: Names, depth: int) -> st.SearchStrategy[Any]:
    assert isinstance(shape, StructureShape)
    known = dict(names)
    members = {name: (st.sampled_from([known[name]]) | value(service, member, names, depth + 1)
                      if name in known else value(service, member, names, depth + 1))
               for name, member in shape.members.items()}
    if shape.name == "AttributeValue":  # a union: exactly one member
        return st.one_of([st.fixed_dictionaries({name: strategy}) for name, strategy in members.items()
                          if depth < MAX_DEPTH or name in ("S", "N", "BOOL")])
    required = {name: members[name] for name in shape.required_members}
    optional = {name: strategy for name, strategy in members.items()
                if name not in required and depth < MAX_DEPTH}
    return st.fixed_dictionaries(required, optional=optional)


# ---------------------------------------------------------------------------
# Flaws
# ---------------------------------------------------------------------------

WRONG_VALUES: dict[str, tuple[Any, ...]] = {
    "string": (7, True, [], {"S": "x"}), "integer": ("seven", 1.5, [], True),
    "long": ("seven", {}, False), "float": ("x", [1]), "double": ("x", {}),
    "boolean": ("true", 1, []), "blob": (5, "!!not base64!!"), "timestamp": ([], True, {}),
    "list": ("x", {}, 3), "map": ("x", [], 4), "structure": ("x", [1], 9),
}


def _positions(shape: Shape, data: Any) -> list[tuple[Any, Any, Shape]]:
    """(container, key, member shape) for every member the value has or the top level could have."""
    found: list[tuple[Any, Any, Shape]] = []
    stack = [(shape, data)]
    top = True
    while stack:
        current, item = stack.pop()
        if isinstance(current, StructureShape) and isinstance(item, dict):
            for name, member in current.members.items():
                if top or name in item:
                    found.append((item, name, member))
                if name in item:
                    stack.append((member, item[name]))
        elif isinstance(current, ListShape) and isinstance(item, list):
            found.extend((item, index, current.member) for index in range(len(item)))
            stack.extend((current.member, element) for element in item)
        elif isinstance(current, MapShape) and isinstance(item, dict):
            found.extend((item, key, current.value) for key in item)
            stack.extend((current.value, element) for element in item.values())
        top = False
    return found


@st.composite
def _spoil_json(draw: st.DrawFn, op: OperationModel, data: dict[str, Any], flaw: str) -> tuple[Any, bool]:
    """Apply a member-level flaw to a JSON input; returns (input, whether it must now fail)."""
    shape = op.input_shape
    positions = _positions(shape, data) if shape is not None else []
    if flaw == "wrong-type" and positions:
        container, key, member = draw(st.sampled_from(positions))
        container[key] = draw(st.sampled_from(WRONG_VALUES[member.type_name]))
        return data, True
    if flaw == "missing-required" and shape is not None and shape.required_members:
        data.pop(draw(st.sampled_from(shape.required_members)), None)
        return data, True
    if flaw == "extra-member":
        data[draw(st.sampled_from(["Unknown", "extra", "__type"]))] = draw(st.sampled_from([1, "x", {}]))
    if flaw in ("oversized-string", "unicode-string") and shape is not None:
        strings = [(c, k, m) for c, k, m in positions if m.type_name == "string"]
        if strings:
            container, key, member = draw(st.sampled_from(strings))
            container[key] = ("\u00e9\u4e2d\U0001f600\u200b" * 3 if flaw == "unicode-string"
                              else "x" * draw(st.integers(2049, 70_000)))
            too_long = flaw == "oversized-string" and len(container[key]) > member.metadata.get("max", 1e9)
            return data, too_long
    return data, False


@st.composite
def _json_body(draw: st.DrawFn, op: OperationModel, data: Any, flaw: str) -> tuple[bytes, bool]:
    """The body of an awsJson request with `flaw`, and whether it must be refused."""
    if flaw == "null-body":
        return b"null", True
    if flaw == "non-json-body":
        return draw(st.sampled_from([b"{not json", b"\xff\xfe", b"<xml/>", b"{\"a\":"])), True
    if flaw == "array-body":
        return b"[]", True
    if flaw == "nan-body":
        return b'{"Limit": NaN}', True
    if flaw == "deep-nesting":
        depth = draw(st.integers(150, 20_000))
        return b'{"Key": ' + b"[" * depth + b"]" * depth + b"}", True
    data, must_fail = draw(_spoil_json(op, data, flaw))
    return json.dumps(data).encode(), must_fail


@st.composite
def _query_body(draw: st.DrawFn, op: OperationModel, data: Any, flaw: str) -> tuple[bytes, bool]:
    """The form of an awsQuery request with `flaw` (serialized by botocore), and whether it must fail."""
    form: dict[str, Any] = create_serializer("query").serialize_to_request(data, op)["body"]
    must_fail = flaw in ("unknown-action", "lower-cased-action", "unknown-version", "no-action")
    if flaw == "unknown-action":
        form["Action"] = "Teleport"
    elif flaw == "lower-cased-action":
        form["Action"] = op.name.lower()
    elif flaw == "unknown-version":
        form["Version"] = "2099-01-01"
    elif flaw == "no-action":
        del form["Action"]
    elif flaw == "wrong-type" and op.input_shape is not None:
        typed = [name for name, member in op.input_shape.members.items()
                 if member.type_name in ("integer", "long", "boolean", "timestamp")]
        if typed:
            form[draw(st.sampled_from(typed))] = "not-a-" + "value"
            must_fail = True
    elif flaw == "missing-required" and op.input_shape is not None and op.input_shape.required_members:
        name = draw(st.sampled_from(op.input_shape.required_members))
        form = {key: text for key, text in form.items() if key.split(".")[0] != name}
        must_fail = True
    elif flaw == "oversized-string":  # e.g. a session Policy (2048 characters on some operations)
        policy = op.input_shape.members.get("Policy") if op.input_shape is not None else None
        form["Policy" if policy else "Extra"] = "x" * draw(st.integers(2049, 70_000))
        must_fail = policy is not None and len(form["Policy"]) > policy.metadata.get("max", 1e9)
    return urllib.parse.urlencode(form).encode(), must_fail


# ---------------------------------------------------------------------------
# Envelope: target, headers, signature
# ---------------------------------------------------------------------------

def _headers(svc: ServiceModel, op: OperationModel, flaw: str) -> dict[str, str]:
    if svc.protocol != "json":
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    target = f"{svc.metadata['targetPrefix']}.{op.name}"
    target = {"unknown-target": target.rsplit(".", 1)[0] + ".Teleport",
              "lower-cased-target": target.lower()}.get(flaw, target)
    headers = {"Content-Type": f"application/x-amz-json-{svc.metadata['jsonVersion']}"}
    if flaw != "no-target":
        headers["X-Amz-Target"] = target
    return headers


def sign(world: World, service: str, keys: Keys, headers: dict[str, str], body: bytes) -> dict[str, str]:
    """SigV4 headers exactly as botocore signs them (host, x-amz-date, token, target)."""
    svc = model(service)
    region = "us-east-1" if service == "iam" else "eu-west-1"
    request = AWSRequest(method="POST", url=f"http://{world.host}/", data=body, headers=headers)
    credentials = Credentials(keys.access_key, keys.secret_key, keys.token)
    SigV4Auth(credentials, svc.signing_name or svc.endpoint_prefix, region).add_auth(request)
    return dict(request.headers.items())


@st.composite
def requests(draw: st.DrawFn, world: World) -> list[Wire]:
    """VARIANTS requests for one operation: one input drawn from its shape, spoiled several ways.

    Drawing the input is what costs (hypothesis draws member by member); sending
    it with several flaws and signers makes the corpus larger at the same price.
    """
    service = draw(st.sampled_from(SERVICES))
    svc = model(service)
    op = svc.operation_model(draw(st.sampled_from(svc.operation_names)))
    names = tuple(sorted(world.names.items()))
    data = draw(value(service, op.input_shape, names)) if op.input_shape else {}
    own = JSON_FLAWS if svc.protocol == "json" else QUERY_FLAWS
    flaws = st.sampled_from(HARMLESS + own + SIGNATURE_FLAWS)
    signers = st.sampled_from(["admin", "admin", "session", "none"])
    return [draw(_variant(world, op, json.loads(json.dumps(data)), flaw, signer))
            for flaw, signer in draw(st.lists(st.tuples(flaws, signers), min_size=VARIANTS,
                                              max_size=VARIANTS))]


@st.composite
def _variant(draw: st.DrawFn, world: World, op: OperationModel, data: Any, flaw: str, signer: str) -> Wire:
    """One request: the input with `flaw`, signed by `signer` (admin, session or none)."""
    svc = op.service_model
    make_body = _json_body if svc.protocol == "json" else _query_body
    body, must_fail = draw(make_body(op, data, flaw))
    headers = _headers(svc, op, flaw)
    if signer != "none" or flaw in SIGNATURE_FLAWS:
        keys = world.session if signer == "session" else world.admin
        if flaw == "wrong-secret":
            keys = Keys(keys.access_key, "not-the-secret", keys.token)
            must_fail = must_fail or signer == "session"
        headers = sign(world, svc.service_name, keys, headers, body)
    if flaw == "garbage-authorization":
        headers["Authorization"] = draw(st.sampled_from(GARBAGE_AUTHORIZATION))
    if flaw == "header-added-after-signing":
        headers[draw(st.sampled_from(["X-Amz-Target", "X-Amz-Extra", "x-amz-security-token"]))] = "1"
    must_fail = must_fail or flaw in SIGNATURE_FLAWS
    return Wire(svc.service_name, op.name, flaw, signer, headers, body, must_fail)
