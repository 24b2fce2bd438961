"""Check an awsQuery request (STS, IAM) against its operation's input shape.

A query request is a flat form (`RoleArn=...&Tags.member.1.Key=...`). botocore
can write one (QuerySerializer) but not read one, so this reader is written by
hand and stays shallow on purpose: top-level members and lists of scalars,
which is every member STS and IAM callers send that moto parses without its
own checks. Deeper members are left to the service; whatever the service
chokes on is mapped at the edge (see edge.moto).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from botocore.model import ListShape, Shape
from botocore.utils import parse_timestamp

from rolecall.emulator.edge.shapes import Problem, camel

_SCALAR_TYPES = ("string", "integer", "long", "float", "double", "boolean", "timestamp")


def check(shape: Shape | None, form: dict[str, str]) -> list[Problem]:
    """The problems of a query form against an operation's input shape ([] when none)."""
    if shape is None:
        return []
    problems: list[Problem] = []
    present = {key.split(".", 1)[0] for key in form}
    for name in shape.required_members:
        if name not in present:
            problems.append(Problem(camel(name), "Member must not be null"))
    for name, member in shape.members.items():
        if member.type_name in _SCALAR_TYPES and name in form:
            problems.extend(_scalar(member, form[name], name))
        elif isinstance(member, ListShape) and member.member.type_name in _SCALAR_TYPES:
            problems.extend(_scalar_list(member, form, name))
    return problems


def _scalar(shape: Shape, text: str, name: str) -> list[Problem]:
    """A scalar member: it must parse as its type and meet its constraints."""
    value = _parse(shape.type_name, text)
    if value is None:
        return [Problem(name, f"Invalid value for parameter {name}: expected {shape.type_name}",
                        wrong_type=True)]
    path = camel(name)
    if isinstance(value, str):
        return _length(shape, len(value), path) + _enum(shape, value, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [replace(problem, value=text) for problem in _range(shape, value, path)]
    return []


def _scalar_list(shape: ListShape, form: dict[str, str], name: str) -> list[Problem]:
    """`Name.member.N` entries: each a valid scalar, and as many as the list allows."""
    prefix = f"{name}.member."
    items = [(key, text) for key, text in form.items() if key.startswith(prefix)]
    problems = _length(shape, len(items), camel(name)) if items else []
    for key, text in items:
        problems.extend(_scalar(shape.member, text, key))
    return problems


def _parse(type_name: str, text: str) -> Any:
    """The value of a query string as `type_name`, or None when it is not one."""
    try:
        if type_name in ("integer", "long"):
            return int(text)
        if type_name in ("float", "double"):
            number = float(text)
            return number if math.isfinite(number) else None
        if type_name == "boolean":
            return {"true": True, "false": False}.get(text.lower())
        if type_name == "timestamp":
            return parse_timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return text


def _length(shape: Shape, size: int, path: str) -> list[Problem]:
    return _bounds(shape, size, path, "length")


def _range(shape: Shape, value: float, path: str) -> list[Problem]:
    return _bounds(shape, value, path, "value")


def _bounds(shape: Shape, amount: float, path: str, what: str) -> list[Problem]:
    """The model's min/max on a member's length or value, in AWS's validation wording."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and amount < low:
        return [Problem(path, f"Member must have {what} greater than or equal to {low}")]
    if high is not None and amount > high:
        return [Problem(path, f"Member must have {what} less than or equal to {high}")]
    return []


def _enum(shape: Shape, value: str, path: str) -> list[Problem]:
    if shape.enum and value not in shape.enum:
        return [Problem(path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")]
    return []
