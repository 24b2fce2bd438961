"""The rows of the coverage table, and how each is taken away from a cell (rolecall/tools/coverage.py).

Each row is a rule or condition key a DynamoDB request is decided by. `exercises(row,
cell)` reads the cell's request with the oracle twice (rolecall/model/access.py,
rolecall/model/evaluation.py): as AWS decides it, and with the row taken away, the way a
plausible wrong target would (a key it never sets, a policy type it ignores, an ARN it
gets wrong, a check it skips). The cell exercises the row when the two readings differ
in the verdict or in the refusal AWS words (the first refused check and its reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rolecall.cells.matrix import AccessCell, session_of
from rolecall.model import access
from rolecall.model.evaluation import Decision, Policies, Request, decide
from rolecall.model.scenario import Scenario
from rolecall.model.shapes import Check

PATHS = ("enhanced", "classic", "guest")
COGNITO_SUB = "cognito-identity.amazonaws.com:sub"
TAGS = "aws:PrincipalTag/"

# A mutation: (scenario, the check, its policies, its request) -> the policies and the
# request a wrong target would decide with.
Mutation = Callable[[Scenario, Check, Policies, Request], tuple[Policies, Request]]


@dataclass(frozen=True)
class Row:
    id: str
    rule: str  # docs/rules.md
    how: str  # how the row is taken away, for the table's legend
    mutate: Mutation | None = None  # None: a row read another way (refusal text, scope-down)
    key: str | None = None  # a DynamoDB condition key the shape's checks state or not
    multi_check: bool = False  # only requests of several checks can carry it
    index_only: bool = False
    guest_only: bool = False
    keyed: bool = False  # decides through dynamodb:LeadingKeys: keyed requests only

    def impossible_on(self, checks: Sequence[Check]) -> str | None:
        """Why a request of these checks cannot carry the row (None: it can)."""
        if self.guest_only:
            return None
        if self.multi_check and len(checks) < 2:
            return "the request makes one check"
        if self.index_only and not any(c.index for c in checks):
            return "the request reads no index"
        if self.keyed and not any(c.keyed for c in checks):
            return "the request names no partition key (no dynamodb:LeadingKeys to confine)"
        if self.key and self.key.startswith("dynamodb:") and not any(
                values for c in checks for k, values in c.context if k == self.key):
            return f"the request carries no {self.key}"
        return None

    def impossible_on_path(self, path: str) -> str | None:
        if self.guest_only:
            return None if path == "guest" else "only the enhanced flow's guests are scoped down"
        if path == "guest":
            return "E5: the scope-down refuses every DynamoDB action before anything else is read"
        if self.key == TAGS and path == "classic":
            return "A2: the classic flow sets no principal tags"
        return None


def _drop(key: str) -> Mutation:
    """The key is absent from the request (a target that never sets it)."""
    def mutate(_s: Scenario, _c: Check, policies: Policies, request: Request
               ) -> tuple[Policies, Request]:
        kept = {k: v for k, v in request.context.items()
                if not (k == key or (key.endswith("/") and k.startswith(key)))}
        gone = {k for k in request.context if k not in kept}
        return policies, replace(request, context=kept, absent=request.absent | gone | {key})
    return mutate


def _no_boundary(_s: Scenario, _c: Check, policies: Policies, request: Request
                 ) -> tuple[Policies, Request]:
    return replace(policies, boundary=None), request


def _no_table_policy(_s: Scenario, _c: Check, policies: Policies, request: Request
                     ) -> tuple[Policies, Request]:
    return replace(policies, resource=None), request


def _table_not_index(_s: Scenario, _c: Check, policies: Policies, request: Request
                     ) -> tuple[Policies, Request]:
    return policies, replace(request, resource=request.resource.split("/index/", 1)[0])


def _main_table(scenario: Scenario, _c: Check, policies: Policies, request: Request
                ) -> tuple[Policies, Request]:
    main = access.table_arn(scenario)
    suffix = request.resource.split("/index/", 1)[1:]
    return policies, replace(request, resource=main + (f"/index/{suffix[0]}" if suffix else ""))


ROWS: tuple[Row, ...] = (
    Row("LeadingKeys", "D3", "dynamodb:LeadingKeys dropped", _drop("dynamodb:LeadingKeys"),
        keyed=True),
    Row("Attributes", "D2", "dynamodb:Attributes dropped", _drop("dynamodb:Attributes"),
        key="dynamodb:Attributes"),
    Row("Select", "D2", "dynamodb:Select dropped", _drop("dynamodb:Select"),
        key="dynamodb:Select"),
    Row("ReturnValues", "D2", "dynamodb:ReturnValues dropped", _drop("dynamodb:ReturnValues"),
        key="dynamodb:ReturnValues"),
    Row("EnclosingOperation", "D5", "dynamodb:EnclosingOperation dropped",
        _drop("dynamodb:EnclosingOperation"), key="dynamodb:EnclosingOperation"),
    Row("FullTableScan", "D5", "dynamodb:FullTableScan dropped",
        _drop("dynamodb:FullTableScan"), key="dynamodb:FullTableScan"),
    Row("PrincipalTag", "A2", "every aws:PrincipalTag/* dropped", _drop(TAGS), key=TAGS,
        keyed=True),
    Row("identity-id", "D3", f"{COGNITO_SUB} dropped (its policy variable unresolved)",
        _drop(COGNITO_SUB), keyed=True),
    Row("boundary", "B1", "the permissions boundary ignored", _no_boundary),
    Row("table-policy", "R1, R2", "the table's resource policy ignored", _no_table_policy),
    Row("index-ARN", "D3", "an index's check made on the table's ARN", _table_not_index,
        index_only=True),
    Row("other-table", "D1", "another table's check made on the main table's ARN",
        _main_table),
    Row("every-check", "D5", "only the request's first check made", multi_check=True),
    Row("refusal-text", "D4", "the last refused check named instead of the first",
        multi_check=True),
    Row("scope-down", "E5", "the guest's session policy ignored", guest_only=True),
)


Outcome = tuple[str, str, str] | bool | None  # (action, resource, phrase) refused; False allowed


def exercises(row: Row, cell: AccessCell) -> bool:
    """Does taking the row away change what the cell expects?"""
    credential = cell.credential
    role = credential.expected.role
    if role is None:
        return False
    scenario, shape = credential.scenario, cell.probe.shape
    if row.guest_only:
        return credential.flow == "guest" and _guest_would_pass(cell, role)
    session = session_of(credential, role)
    if session is None or (row.impossible_on(shape.checks) is not None):
        return False
    if row.id == "refusal-text":
        refused = [o for o in _outcomes(scenario, session, cell, None) if isinstance(o, tuple)]
        return bool(refused) and refused[0] != refused[-1]
    before = _first(_outcomes(scenario, session, cell, None))
    after = _first(_outcomes(scenario, session, cell, row))
    return before is not None and after is not None and before != after


def _guest_would_pass(cell: AccessCell, role: str) -> bool:
    """E5: the guest is refused only by the scope-down; its role alone would allow."""
    credential = cell.credential
    session = access.Session(role, "enhanced", credential.variant, None)
    first = _first(_outcomes(credential.scenario, session, cell, None))
    return first is False


def _outcomes(scenario: Scenario, session: access.Session, cell: AccessCell,
              row: Row | None) -> list[Outcome]:
    """Each check's outcome in AWS's order (or up to the first, for row every-check)."""
    found: list[Outcome] = []
    checks = cell.probe.shape.checks
    if row is not None and row.id == "every-check":
        checks = checks[:1]
    for check in checks:
        aimed = access.aimed_at(scenario, cell.on, check)
        policies = access.policies_of(scenario, session.role, aimed)
        request = access.request_of(scenario, session, check, cell.partition, cell.on)
        if row is not None and row.mutate is not None:
            policies, request = row.mutate(scenario, check, policies, request)
        decision = decide(policies, request)
        found.append(_outcome(decision, request))
    return found


def _outcome(decision: Decision | None, request: Request) -> Outcome:
    if decision is None:
        return None
    return False if decision.allowed else (request.action, request.resource, decision.phrase)


def _first(outcomes: list[Outcome]) -> Outcome:
    """The request's outcome: the first refused check (None where any reading is unknown)."""
    for outcome in outcomes:
        if outcome is None:
            return None
        if outcome is not False:
            return outcome
    return False
