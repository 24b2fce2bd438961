"""PartiQL for DynamoDB, as IAM sees it: the verb and the table (or index) of each statement.

AWS authorizes ExecuteStatement, BatchExecuteStatement and ExecuteTransaction
not as GetItem/PutItem/... but with their own actions, one per statement:
dynamodb:PartiQLSelect, PartiQLInsert, PartiQLUpdate or PartiQLDelete "on the
table or index" the statement names
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html;
the Service Authorization Reference maps the three operations to the same four
actions: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).

Only as much of the statement is read as the check needs; moto parses and
serves it once it is authorized. A statement whose verb or table cannot be
read is a ValidationException here, before anything is evaluated.

The checks carry the condition keys the Service Authorization Reference lists for the
four actions (PartiQLSelect: Attributes, EnclosingOperation, FullTableScan, LeadingKeys,
Select; Insert: Attributes, EnclosingOperation, LeadingKeys; Update: the same and
ReturnValues; Delete: EnclosingOperation, LeadingKeys, ReturnValues), with values read as
their item-API twins carry them (the values are the target's reading, docs/semantics.md):

- `dynamodb:LeadingKeys`: the partition key values the WHERE binds with = or IN (each
  OR branch must bind it), or the INSERT's VALUE names; none for a full scan, as a Scan;
- `dynamodb:FullTableScan`: "true" for a SELECT that binds no partition key value (the
  guide: a SELECT "can result in a full table scan if an equality condition with a
  partition key is not provided in the WHERE clause"), "false" otherwise;
- `dynamodb:Select`: SPECIFIC_ATTRIBUTES for a SELECT of named attributes, else
  ALL_ATTRIBUTES (ALL_PROJECTED_ATTRIBUTES on an index);
- `dynamodb:Attributes`: the attributes a SELECT names, an INSERT's VALUE holds, an UPDATE
  sets or removes;
- `dynamodb:ReturnValues`: an UPDATE's or DELETE's RETURNING (ALL OLD * -> ALL_OLD,
  MODIFIED NEW * -> UPDATED_NEW ...), NONE without one;
- `dynamodb:EnclosingOperation`: "ExecuteTransaction" inside a transaction (ql-iam.md).

A `?` takes its value from the statement's Parameters, in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rolecall.emulator.checks import Check
from rolecall.emulator.errors import AwsError

__all__ = ["ACTIONS", "LEGACY_ACTIONS", "Statement", "checks", "for_moto", "install", "parse"]

ACTIONS = {"SELECT": "dynamodb:PartiQLSelect", "INSERT": "dynamodb:PartiQLInsert",
           "UPDATE": "dynamodb:PartiQLUpdate", "DELETE": "dynamodb:PartiQLDelete"}
# What fault partiql-as-legacy-action checks instead: the item API's actions.
LEGACY_ACTIONS = {"SELECT": "dynamodb:GetItem", "INSERT": "dynamodb:PutItem",
                  "UPDATE": "dynamodb:UpdateItem", "DELETE": "dynamodb:DeleteItem"}

# The guide's rule, in its words (AWS's own message for it is not published).
MIXED_BATCH = ("The entire batch must consist of either read statements or write statements; "
               "you cannot mix both in one batch")

# A table or index name: "double quoted" (a doubled quote escapes one) or a bare identifier.
_NAME = r'"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*'
_TARGET = rf"(?P<table>{_NAME})(?:\s*\.\s*(?P<index>{_NAME}))?"
_FORMS = {
    "SELECT": re.compile(rf"^\s*SELECT\s.*?\bFROM\s+{_TARGET}", re.IGNORECASE | re.DOTALL),
    "INSERT": re.compile(rf"^\s*INSERT\s+INTO\s+{_TARGET}\s+VALUE\b", re.IGNORECASE),
    "UPDATE": re.compile(rf"^\s*UPDATE\s+{_TARGET}\s+(?:SET|REMOVE)\b", re.IGNORECASE),
    "DELETE": re.compile(rf"^\s*DELETE\s+FROM\s+{_TARGET}", re.IGNORECASE),
}
_VERB = re.compile(r"^\s*([A-Za-z]+)")


@dataclass(frozen=True)
class Statement:
    verb: str  # SELECT, INSERT, UPDATE or DELETE
    table: str
    index: str | None = None


def parse(text: str) -> Statement:
    """The verb, table and index of one statement; ValidationException when unreadable."""
    verb_match = _VERB.match(text)
    verb = verb_match.group(1).upper() if verb_match else ""
    form = _FORMS.get(verb)
    match = form.match(text) if form is not None else None
    if match is None:
        # AWS's envelope, and its detail for a statement that is not DML (field, checked
        # against DynamoDB: nubo-db/dynoxide#149); the detail for an unreadable table is ours
        detail = ("Expected data manipulation" if form is None
                  else f"expected a table name after {verb}")
        raise AwsError("ValidationException",
                       f"Statement wasn't well formed, can't be processed: {detail}")
    index = match.group("index")
    return Statement(verb, _unquote(match.group("table")), _unquote(index) if index else None)


def checks(operation: str, body: Mapping[str, Any], table_arn: Callable[[str], str], *,
           partition_key: Callable[[str, str | None], str | None] = lambda t, i: None,
           fault: Callable[[str], bool] = lambda name: False) -> list[Check]:
    """One check per statement of ExecuteStatement / BatchExecuteStatement / ExecuteTransaction.

    `table_arn(name)` builds the table's ARN; `partition_key(table, index)` names the key
    whose values the statement binds; `fault(name)`: is that emulator fault switched on.
    """
    names = LEGACY_ACTIONS if fault("partiql-as-legacy-action") else ACTIONS  # fault
    found: list[Check] = []
    statements = [(parse(text), text, parameters)
                  for text, parameters in _statements(operation, body)]
    if operation == "BatchExecuteStatement" and len({s.verb == "SELECT" for s, _, _ in statements}) > 1:
        raise AwsError("ValidationException", MIXED_BATCH)
    for statement, text, parameters in statements:
        resource = table_arn(statement.table)
        if statement.index and not fault("partiql-index-as-table"):  # fault: the table's ARN
            resource = f"{resource}/index/{statement.index}"
        reading = _Reading(_tokens(text), parameters)
        context = reading.context(statement, partition_key(statement.table, statement.index))
        if fault("keys-partiql-unkeyed"):
            context.pop("dynamodb:LeadingKeys", None)  # fault: statements carry no keys
        if fault("partiql-full-scan-unset"):
            context.pop("dynamodb:FullTableScan", None)  # fault: never set
        if operation == "ExecuteTransaction" and not fault("enclosing-operation-unset"):
            context["dynamodb:EnclosingOperation"] = ["ExecuteTransaction"]
        found.append(Check(names[statement.verb], resource, context))
    return found


# A token: "quoted name", 'string', number, ?, a word, or one punctuation mark.
_TOKEN = re.compile(r"""\s*(?:(?P<name>"(?:[^"]|"")*")|(?P<string>'(?:[^']|'')*')"""
                    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<param>\?)"
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<mark><>|!=|<=|>=|\S))")
_RETURNING = {("ALL", "OLD"): "ALL_OLD", ("MODIFIED", "OLD"): "UPDATED_OLD",
              ("ALL", "NEW"): "ALL_NEW", ("MODIFIED", "NEW"): "UPDATED_NEW"}


@dataclass(frozen=True)
class _Token:
    kind: str  # name, string, number, param, word or mark
    text: str
    param: int = -1  # a ?'s position among the statement's ?s

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    params = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "mark"
        found.append(_Token(kind, match.group(kind), params if kind == "param" else -1))
        params += kind == "param"
    return found


@dataclass(frozen=True)
class _Reading:
    """What one statement's tokens say to IAM (module docstring)."""

    tokens: list[_Token]
    parameters: list[Any]

    def context(self, statement: Statement, key: str | None) -> dict[str, list[str]]:
        context: dict[str, list[str]] = {}
        keys = self._inserted_key(key) if statement.verb == "INSERT" else self._bound(key)
        if keys:
            context["dynamodb:LeadingKeys"] = list(dict.fromkeys(keys))
        if statement.verb == "SELECT":
            context["dynamodb:FullTableScan"] = ["false" if keys else "true"]
            named = self._projected()
            context["dynamodb:Select"] = ["SPECIFIC_ATTRIBUTES" if named else
                                          "ALL_PROJECTED_ATTRIBUTES" if statement.index
                                          else "ALL_ATTRIBUTES"]
        else:
            named = self._inserted() if statement.verb == "INSERT" else self._updated()
        if named:
            context["dynamodb:Attributes"] = list(dict.fromkeys(named))
        if statement.verb in ("UPDATE", "DELETE"):
            context["dynamodb:ReturnValues"] = [self._returning()]
        return context

    def _value(self, token: _Token) -> str | None:
        """A literal's or a parameter's scalar value (strings, numbers)."""
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            return token.text
        if token.kind == "param" and token.param < len(self.parameters):
            given = self.parameters[token.param]
            if isinstance(given, Mapping):
                return next((str(given[k]) for k in ("S", "N") if isinstance(given.get(k), str)),
                            None)
        return None

    def _where(self) -> list[_Token]:
        at = next((i for i, t in enumerate(self.tokens) if t.is_word("WHERE")), None)
        if at is None:
            return []
        end = next((i for i in range(at, len(self.tokens)) if self.tokens[i].is_word("RETURNING")),
                   len(self.tokens))
        return self.tokens[at + 1:end]

    def _bound(self, key: str | None) -> list[str]:
        """The key values the WHERE binds; [] unless every OR branch binds some."""
        where = self._where()
        if key is None or not where:
            return []
        values: list[str] = []
        for branch in _split_or(where):
            found = _bindings(branch, key, self._value)
            if not found:
                return []
            values += found
        return values

    def _projected(self) -> list[str]:
        """The attribute names between SELECT and FROM ([] for `*`)."""
        end = next(i for i, t in enumerate(self.tokens) if t.is_word("FROM"))
        between = self.tokens[1:end]
        return [] if any(t.text == "*" for t in between) else _names(between, first_only=True)

    def _inserted(self) -> list[str]:
        return [self._string(t) for t, _ in self._value_pairs()]

    def _inserted_key(self, key: str | None) -> list[str]:
        return [v for t, value in self._value_pairs()
                if self._string(t) == key and (v := self._value(value)) is not None]

    def _value_pairs(self) -> list[tuple[_Token, _Token]]:
        """The VALUE document's top-level 'name': value pairs."""
        pairs, depth = [], 0
        for i, token in enumerate(self.tokens):
            depth += token.text in "{[(" and token.kind == "mark"
            depth -= token.text in "}])" and token.kind == "mark"
            if (depth == 1 and token.kind == "string" and i + 2 < len(self.tokens)
                    and self.tokens[i + 1].text == ":"):
                pairs.append((token, self.tokens[i + 2]))
        return pairs

    def _updated(self) -> list[str]:
        """The attributes an UPDATE's SET and REMOVE clauses name (the path's first step)."""
        where = next((i for i, t in enumerate(self.tokens) if t.is_word("WHERE")),
                     len(self.tokens))
        clause = self.tokens[3:where]  # after UPDATE "table" SET|REMOVE
        targets, expect = [], True
        depth = 0
        for token in clause:
            if token.kind == "mark" and token.text in "([":
                depth += 1
            elif token.kind == "mark" and token.text in ")]":
                depth -= 1
            elif depth == 0 and (token.is_word("SET", "REMOVE") or token.text == ","):
                expect = True
                continue
            if expect and depth == 0 and token.kind in ("name", "word"):
                targets.append(_unquote(token.text))
            expect = False
        return targets

    def _returning(self) -> str:
        at = next((i for i, t in enumerate(self.tokens) if t.is_word("RETURNING")), None)
        if at is None:
            return "NONE"
        words = tuple(t.text.upper() for t in self.tokens[at + 1:at + 3])
        return _RETURNING.get((words[0], words[1]) if len(words) == 2 else ("", ""), "NONE")

    @staticmethod
    def _string(token: _Token) -> str:
        return token.text[1:-1].replace("''", "'")


def _split_or(where: list[_Token]) -> list[list[_Token]]:
    """The WHERE's top-level OR branches."""
    branches: list[list[_Token]] = [[]]
    depth = 0
    for token in where:
        depth += token.kind == "mark" and token.text in "(["
        depth -= token.kind == "mark" and token.text in ")]"
        if depth == 0 and token.is_word("OR"):
            branches.append([])
        else:
            branches[-1].append(token)
    return branches


def _bindings(branch: list[_Token], key: str,
              value: Callable[[_Token], str | None]) -> list[str]:
    """Values `key = v`, `v = key` or `key IN [v, ...]` bind in one branch."""
    found: list[str] = []
    for i, token in enumerate(branch):
        if not _is_name(token, key):
            continue
        after = branch[i + 1:]
        if len(after) >= 2 and after[0].text == "=" and (v := value(after[1])) is not None:
            found.append(v)
        elif after and after[0].is_word("IN"):
            closing = next((j for j, t in enumerate(after) if t.text in ")]"), len(after))
            found += [v for t in after[2:closing] if (v := value(t)) is not None]
        elif i >= 2 and branch[i - 1].text == "=" and (v := value(branch[i - 2])) is not None:
            found.append(v)
    return found


def _is_name(token: _Token, key: str) -> bool:
    return token.kind in ("name", "word") and _unquote(token.text) == key


def _names(tokens: list[_Token], *, first_only: bool) -> list[str]:
    """The attribute names of a comma list (each path's first step when `first_only`)."""
    found, expect = [], True
    for token in tokens:
        if token.text == ",":
            expect = True
        elif expect and token.kind in ("name", "word"):
            found.append(_unquote(token.text))
            expect = not first_only
    return found


def install() -> None:
    """moto 5's BatchExecuteStatement looks a SELECT's table up by its name as written, quotes
    and all ('"orders"'), and answers ResourceNotFound; its metadata is read unquoted here."""
    from moto.dynamodb.parsing import partiql as moto_partiql  # pylint: disable=import-outside-toplevel

    read = moto_partiql.get_query_metadata
    if getattr(read, "rolecall", False):
        return

    def unquoted(statement: str) -> Any:
        metadata = read(statement)
        names = metadata.get_table_names
        metadata.get_table_names = lambda: [_unquote(n) for n in names()]
        return metadata

    unquoted.rolecall = True  # type: ignore[attr-defined]
    moto_partiql.get_query_metadata = unquoted


def for_moto(operation: str, body: bytes) -> bytes:
    """The request as moto can serve it: moto 5 reads a SELECT on an index only as
    `FROM "table.index"`, not AWS's `FROM "table"."index"` (it answers ResourceNotFound)."""
    if operation not in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        return body
    try:
        request = json.loads(body)
    except ValueError:
        return body
    entries = [request] if operation == "ExecuteStatement" else (
        request.get("Statements") or request.get("TransactStatements") or [])
    for entry in entries:
        text = entry.get("Statement") if isinstance(entry, dict) else None
        match = _FORMS["SELECT"].match(text) if isinstance(text, str) else None
        if match and match.group("index") and isinstance(text, str):
            joined = f"{_unquote(match.group('table'))}.{_unquote(match.group('index'))}"
            entry["Statement"] = (text[:match.start("table")] + '"' + joined.replace('"', '""')
                                  + '"' + text[match.end("index"):])
    return json.dumps(request).encode()


def _statements(operation: str, body: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """Each statement's text and Parameters."""
    if operation == "ExecuteStatement":
        entries: list[Any] = [body]
    else:
        key = "Statements" if operation == "BatchExecuteStatement" else "TransactStatements"
        listed = body.get(key)
        entries = listed if isinstance(listed, list) else []
    texts = [entry.get("Statement") for entry in entries if isinstance(entry, Mapping)]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise AwsError("ValidationException",
                       f"1 validation error detected: a statement of {operation} must be a string")
    return [(str(entry["Statement"]), _parameters(entry)) for entry in entries]


def _parameters(entry: Mapping[str, Any]) -> list[Any]:
    given = entry.get("Parameters")
    return given if isinstance(given, list) else []


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name
