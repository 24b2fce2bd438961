"""Which cosmic-ray mutants are equivalent by construction, found by reading the source.

Two kinds are skipped before anything runs (rolecall/tools/mutation_tool.py): mutants
in type annotations (code that never runs), and mutants in code that only runs, or
only decides, with an emulator fault on (the suite judges the faithful target, where
every fault is off). Each is a span of source; a mutant is skipped only if it lies
wholly inside one.
"""

from __future__ import annotations

import ast

Span = tuple[int, int, int, int]  # (line, col, end line, end col), as ast and cosmic-ray count


def _span(node: ast.expr | ast.stmt) -> Span:
    return (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0)


def annotation_spans(source: str) -> list[Span]:
    """The span of every type annotation: code that never runs.

    The modules use `from __future__ import annotations`, so `str | None` in a
    signature is a string at run time; a mutant there (`str >> None`) is equivalent
    by construction and would only cost a suite run to prove it.
    """
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            found += [a.annotation for a in (*arguments.posonlyargs, *arguments.args,
                                             *arguments.kwonlyargs, arguments.vararg,
                                             arguments.kwarg) if a is not None]
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        spans += [_span(n) for n in found if n is not None]
    return spans


def _is_fault_check(node: ast.AST) -> bool:
    """`faults.on("name")`: False on the faithful target, where no fault is on."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "on" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "faults")


def _never_true(test: ast.AST) -> bool:
    """A condition that is False whenever no fault is on: a fault check, an `and` with
    one such operand, or an `or` of nothing but such operands."""
    if _is_fault_check(test):
        return True
    if isinstance(test, ast.BoolOp):
        found = [_never_true(value) for value in test.values]
        return any(found) if isinstance(test.op, ast.And) else all(found)
    return False


def fault_only_spans(source: str) -> list[Span]:
    """Code that runs, or whose value counts, only when an emulator fault is on.

    The fault hooks (rolecall/emulator/faults.py) sit inside the decision code:
    `if faults.on("x"): ...`, `a == b and faults.on("x")`. With every fault off,
    which is the target the suite judges, such a branch never runs and such an
    operand never decides anything, so a mutant there is equivalent by construction.
    The spans are: the body of an `if`/ternary whose test is never true, the operands
    of an `and` that is never true (not the `and` itself: turning it into `or` is a
    live mutant), and private functions called only from those places. A mutant is
    skipped only if it lies wholly inside one span, so `not` added to the whole test
    (cosmic-ray's AddNot spans the test) still runs.
    """
    tree = ast.parse(source)
    spans: list[Span] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.IfExp) and _never_true(node.test):
            body = node.body if isinstance(node.body, list) else [node.body]
            spans += [_span(statement) for statement in body]
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) and _never_true(node):
            spans += [_span(value) for value in node.values]
    return spans + _called_only_from(tree, spans)


def add_not_spans(source: str) -> list[Span]:
    """Tests where cosmic-ray's AddNot is equivalent by construction.

    AddNot writes `not` before the test without parentheses, so on `a and faults.on("x")`
    it gives `not a and faults.on("x")`: the `not` binds to the first operand only, and a
    later fault check keeps the whole test False with every fault off. These are the
    spans of such tests (an `and` with a never-true operand after its first).
    """
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert):
            test = node.test
            if (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)
                    and any(_never_true(value) for value in test.values[1:])):
                spans.append(_span(test))
    return spans


def _called_only_from(tree: ast.Module, spans: list[Span]) -> list[Span]:
    """Private module functions whose every use is a call inside `spans` (to a fixpoint)."""
    functions = {node.name: node for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name.startswith("_")}
    uses: dict[str, list[ast.Name]] = {name: [] for name in functions}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in uses:
            uses[node.id].append(node)
    dead: list[Span] = []
    changed = True
    while changed:
        changed = False
        for name, function in functions.items():
            span = _span(function)
            if span in dead or not uses[name]:
                continue
            if all(in_spans((use.lineno, use.col_offset), spans + dead) for use in uses[name]):
                dead.append(span)
                changed = True
    return dead


def within_spans(start: tuple[int, int], end: tuple[int, int], spans: list[Span]) -> bool:
    """The whole of [start, end] inside one span."""
    return any((line, col) <= start and end <= (end_line, end_col)
               for line, col, end_line, end_col in spans)


def in_spans(position: tuple[int, int], spans: list[Span]) -> bool:
    return within_spans(position, position, spans)
