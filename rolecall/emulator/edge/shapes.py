"""Check a decoded request against its operation's input shape from the botocore model.

botocore's own ParamValidator checks the *Python* values a client is about to
serialize (bytes for blobs, datetimes for timestamps) and knows nothing of the
wire; here the values are already on the wire (JSON, or query strings), so the
walk is written by hand, but every rule it applies is read from the model:
member types, `required`, and the `min`/`max`/`enum` constraints. Patterns are
not checked: botocore's patterns are Java regexes, and a wrong translation
would refuse what real clients send.

Two kinds of finding, as AWS separates them: a value of the wrong type cannot
be deserialized at all (`Problem.wrong_type`), a constraint violation is a
validation error; both name the member path.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

MAX_PROBLEMS = 10  # AWS lists a handful of violations, then stops
# Structures that carry exactly one member on the wire. Smithy marks them `union`;
# botocore's DynamoDB model predates that and leaves AttributeValue unmarked.
KNOWN_UNIONS = frozenset({"AttributeValue"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, at a member path."""

    path: str
    text: str
    wrong_type: bool = False
    value: str | None = None  # the offending scalar as sent, for services that quote it


def camel(name: str) -> str:
    """AWS's validation texts name members lowerCamel: TableName -> tableName."""
    return name[:1].lower() + name[1:]


class _Walk:
    """One validation pass; collects problems instead of raising at the first."""

    def __init__(self, camel_paths: bool) -> None:
        self.camel_paths = camel_paths
        self.problems: list[Problem] = []

    def add(self, path: str, text: str, wrong_type: bool = False) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, text, wrong_type))

    def member(self, path: str, name: str) -> str:
        name = camel(name) if self.camel_paths else name
        return f"{path}.{name}" if path else name

    def value(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        check = _CHECKS.get(kind)
        if check is not None:
            check(self, shape, value, path)

    def structure(self, shape: Shape, value: Any, path: str) -> None:
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            self.add(path, f"expected a structure, got {_json_kind(value)}", True)
            return
        for name in shape.required_members:
            if value.get(name) is None:
                self.add(self.member(path, name), "Member must not be null")
        if _is_union(shape):
            self.union(value, path)
        for name, member in shape.members.items():
            if value.get(name) is not None:
                self.value(member, value[name], self.member(path, name))

    def union(self, value: dict[str, Any], path: str) -> None:
        given = sum(1 for item in value.values() if item is not None)
        if given != 1:
            self.add(path, "Supplied AttributeValue has " + ("more than one datatypes set"
                     if given else "no datatype set") + ", must contain exactly one of the "
                     "supported datatypes")

    def list(self, shape: Shape, value: Any, path: str) -> None:
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            self.add(path, f"expected a list, got {_json_kind(value)}", True)
            return
        self.count(shape, len(value), path)
        for index, item in enumerate(value):
            if item is None:
                self.add(f"{path}.{index + 1}", "Member must not be null")
            else:
                self.value(shape.member, item, f"{path}.{index + 1}.member")

    def map(self, shape: Shape, value: Any, path: str) -> None:
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            self.add(path, f"expected a map, got {_json_kind(value)}", True)
            return
        self.count(shape, len(value), path)
        for key, item in value.items():
            self.string(shape.key, key, f"{path}.key")
            if item is not None:
                self.value(shape.value, item, f"{path}.{key}")

    def count(self, shape: Shape, size: int, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and size < low:
            self.add(path, f"Member must have length greater than or equal to {low}")
        if high is not None and size > high:
            self.add(path, f"Member must have length less than or equal to {high}")

    def string(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.add(path, f"expected a string, got {_json_kind(value)}", True)
            return
        self.count(shape, len(value), path)
        if shape.enum and value not in shape.enum:
            self.add(path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")

    def integer(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not value.is_integer()):
            self.add(path, f"expected an integer, got {_json_kind(value)}", True)
            return
        self.range(shape, value, path)

    def number(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.add(path, f"expected a number, got {_json_kind(value)}", True)
            return
        self.range(shape, value, path)

    def range(self, shape: Shape, value: float, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.add(path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self.add(path, f"Member must have value less than or equal to {high}")

    def boolean(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.add(path, f"expected a boolean, got {_json_kind(value)}", True)

    def blob(self, shape: Shape, value: Any, path: str) -> None:
        """awsJson sends blobs base64-encoded; what does not decode cannot be read."""
        if not isinstance(value, str):
            self.add(path, f"expected base64-encoded binary, got {_json_kind(value)}", True)
            return
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            self.add(path, "Base64 encoded binary data is not valid", True)

    def timestamp(self, shape: Shape, value: Any, path: str) -> None:
        """awsJson sends epoch seconds; some clients send ISO 8601 text, which AWS reads too."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.add(path, f"expected a timestamp, got {_json_kind(value)}", True)


_CHECKS = {
    "structure": _Walk.structure, "list": _Walk.list, "map": _Walk.map,
    "string": _Walk.string, "integer": _Walk.integer, "long": _Walk.integer,
    "float": _Walk.number, "double": _Walk.number, "boolean": _Walk.boolean,
    "blob": _Walk.blob, "timestamp": _Walk.timestamp,
}


def check(shape: Shape | None, value: Any, camel_paths: bool) -> list[Problem]:
    """Every problem (up to MAX_PROBLEMS) of `value` against `shape`; [] when it conforms."""
    if shape is None:
        return [] if isinstance(value, dict) else [Problem("", "expected a JSON object", True)]
    walk = _Walk(camel_paths)
    walk.value(shape, value, "")
    return walk.problems


def _is_union(shape: StructureShape) -> bool:
    return shape.name in KNOWN_UNIONS or bool(getattr(shape, "_shape_model", {}).get("union"))


def _json_kind(value: Any) -> str:
    """The JSON type of a decoded value, in the words of a JSON text ('a string', 'null')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def json_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, computed without recursion (the value may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest
