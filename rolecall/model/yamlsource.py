"""YAML with line numbers: what a scenario error needs to point at the right line.

PyYAML's `safe_load` forgets where each value came from and lets a key that is
written twice in one mapping silently replace the first (the last `Admin:` under
`groups:` wins). Scenario files are expectations an auditor reads, so a duplicate
key is an error here, and every value keeps the line of the key that introduced
it, so a validation error can say `books.yaml:27` instead of only a YAML path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(Exception):
    """A key written twice in the same mapping: both lines, so the reader finds both."""

    def __init__(self, path: Path, first_line: int, second_line: int) -> None:
        self.path, self.first_line, self.second_line = path, first_line, second_line
        super().__init__(f"{dotted(path)} is defined twice: on line {first_line} and on line "
                         f"{second_line}; YAML would silently keep only the second")


@dataclass
class Located:
    """A YAML document's data and the line each YAML path starts on (1-based)."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, else of its nearest ancestor the file spells out."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def read(text: str) -> Located:
    """Parse one YAML document (safe tags only); DuplicateKeyError or yaml.YAMLError if bad."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None)
        located = Located(None, {(): node.start_mark.line + 1})
        _walk(node, (), located.lines, set())
        located.data = loader.construct_document(node)
        return located
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], seen: set[int]) -> None:
    """Record each key's line and refuse duplicate keys; aliases are walked once."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                raise DuplicateKeyError((*path, key.value), first[key.value], line)
            first[key.value] = line
            lines.setdefault((*path, key.value), line)
            _walk(value, (*path, key.value), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            lines.setdefault((*path, n), item.start_mark.line + 1)
            _walk(item, (*path, n), lines, seen)


def syntax_error_line(exc: yaml.YAMLError) -> int | None:
    """The line a YAML syntax error is about, 1-based.

    The scanner notices an unclosed quote or a key without a colon only on a later
    line, where `problem_mark` points; its `context_mark` is where the broken token
    starts, the line the author has to fix. The same holds when the parser runs into
    the end of the file or out of a `[...]`/`{...}` (an unclosed bracket). Otherwise (bad indentation) the
    problem mark is the line, and the context is only the enclosing block.
    """
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    at_end = "<stream end>" in str(getattr(exc, "problem", ""))
    in_flow = "flow" in str(getattr(exc, "context", ""))  # [ ... ] or { ... }: one line, as a rule
    if context is not None and (isinstance(exc, yaml.scanner.ScannerError) or at_end or in_flow):
        return int(context.line) + 1
    return int(problem.line) + 1 if problem is not None else None


def dotted(path: Path) -> str:
    """('groups', 'Admin', 'role') -> groups.Admin.role; ('expect', 0) -> expect[0]."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
