"""Policy variables and wildcards: how IAM reads Resource and condition values (SPEC D2).

- `*` is any run of characters and `?` one character; the value a variable
  stands for is literal, never a wildcard
- policy variables (`${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`) exist
  only in `Version` 2012-10-17, in Resource and in string/ARN/Bool condition
  values; a variable that cannot be resolved (key missing or multi-valued)
  makes the whole statement invalid, so it neither allows nor denies
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)

Shared by `policy.py` (Action, Resource) and `conditions.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any


class Unresolvable(Exception):
    """A policy variable has no single value: the statement it is in is invalid."""


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


Segments = tuple[tuple[str, bool], ...]  # (text, literal?): literal text never acts as a wildcard

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'((?:[^']|'')*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def expand(text: str, ctx: Mapping[str, Sequence[str]], variables: bool) -> Segments:
    """Split `text` into pattern text and substituted (literal) values.

    `${*}`, `${?}`, `${$}` stand for the literal characters; `${key}` for the single
    value of `key` in the request context (key names are case-insensitive);
    `${key, 'default'}` falls back to the default.
    """
    if not variables or "${" not in text:
        return ((text, False),)
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            segments.append((text[position:match.start()], False))
        segments.append((_resolve(match.group(1), ctx), True))
        position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return tuple(segments)


def _resolve(body: str, ctx: Mapping[str, Sequence[str]]) -> str:
    if body in _SPECIAL:
        return _SPECIAL[body]
    default: str | None = None
    key = body.strip()
    with_default = _DEFAULT.match(body)
    if with_default:
        key, default = with_default.group(1), with_default.group(2).replace("''", "'")
    values = ctx.get(key.lower())
    if values is not None and len(values) == 1:  # multi-valued keys cannot be variables
        return values[0]
    if default is not None:
        return default
    raise Unresolvable(key)


@lru_cache(maxsize=4096)
def glob_regex(segments: Segments, ignore_case: bool) -> re.Pattern[str]:
    """`*` = any run of characters, `?` = one character; substituted values are literal."""
    parts: list[str] = []
    for text, literal in segments:
        if literal:
            parts.append(re.escape(text))
            continue
        for char in text:
            parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def literal_text(segments: Segments) -> str:
    return "".join(text for text, _ in segments)
