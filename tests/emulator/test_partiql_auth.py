"""PartiQL as AWS authorizes it: one PartiQL* action per statement, on the table or index
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html), and the
issue-12 faults that bend the authorization step."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rolecall.emulator import Emulator
from rolecall.emulator.dynamodb import partiql
from rolecall.emulator.errors import AwsError
from tests.emulator.stack import error_of

from .conftest import ClientFactory
from .test_authorization import as_session, refusal
from .test_dynamodb_auth import IDENTITY, allow, deny, key, make_role, make_table, session_for, table_arn

LEGACY = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
          "dynamodb:Query", "dynamodb:Scan"]


def statements(table: str) -> dict[str, str]:
    return {
        "PartiQLSelect": f'SELECT * FROM "{table}" WHERE pk = \'{IDENTITY}\'',
        "PartiQLInsert": f"INSERT INTO \"{table}\" VALUE {{'pk': 'new', 'sk': 's'}}",
        "PartiQLUpdate": f"UPDATE \"{table}\" SET title = 'x' WHERE pk = '{IDENTITY}' AND sk = 's'",
        "PartiQLDelete": f"DELETE FROM \"{table}\" WHERE pk = '{IDENTITY}' AND sk = 's'",
    }


@pytest.mark.parametrize("action", ["PartiQLSelect", "PartiQLInsert", "PartiQLUpdate",
                                    "PartiQLDelete"])
def test_each_statement_needs_its_own_permission(emulator: Emulator, admin: ClientFactory,
                                                 action: str) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
    only = session_for(emulator, make_role(admin, allow(f"dynamodb:{action}", table_arn(table))))
    db = as_session(emulator, only, "dynamodb")
    texts = statements(table)
    db.execute_statement(Statement=texts[action])  # ALLOWED
    for other, text in texts.items():
        if other != action:
            assert error_of(lambda text=text: db.execute_statement(Statement=text)) == (
                "AccessDeniedException", refusal(only, f"dynamodb:{other}", table_arn(table)))


def test_the_item_actions_do_not_grant_partiql(emulator: Emulator, admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    legacy = session_for(emulator, make_role(admin, allow(LEGACY, table_arn(table))))
    db = as_session(emulator, legacy, "dynamodb")
    for action, text in statements(table).items():
        assert error_of(lambda text=text: db.execute_statement(Statement=text))[1] == refusal(
            legacy, f"dynamodb:{action}", table_arn(table))


def test_a_select_on_an_index_is_checked_on_the_index(emulator: Emulator,
                                                      admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s", "owner": IDENTITY})
    index = f"{table_arn(table)}/index/ByOwner"
    on_table = session_for(emulator, make_role(admin, allow("dynamodb:PartiQLSelect",
                                                            table_arn(table))))
    text = f"SELECT * FROM \"{table}\".\"ByOwner\" WHERE owner = '{IDENTITY}'"
    assert error_of(lambda: as_session(emulator, on_table, "dynamodb").execute_statement(
        Statement=text)) == ("AccessDeniedException",
                             refusal(on_table, "dynamodb:PartiQLSelect", index))
    on_index = session_for(emulator, make_role(admin, allow("dynamodb:PartiQLSelect", index)))
    # authorized, and served from the index (moto reads it only as FROM "table.index")
    items = as_session(emulator, on_index, "dynamodb").execute_statement(Statement=text)["Items"]
    assert items == [{"pk": {"S": IDENTITY}, "sk": {"S": "s"}, "owner": {"S": IDENTITY}}]


def test_batch_and_transaction_check_every_statement(emulator: Emulator,
                                                     admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    reader = session_for(emulator, make_role(admin, allow("dynamodb:PartiQLSelect",
                                                          table_arn(table))))
    db = as_session(emulator, reader, "dynamodb")
    texts = statements(table)
    mixed = [{"Statement": texts["PartiQLSelect"]}, {"Statement": texts["PartiQLDelete"]}]
    writes = [{"Statement": texts["PartiQLInsert"]}, {"Statement": texts["PartiQLDelete"]}]
    assert error_of(lambda: db.batch_execute_statement(Statements=writes))[1] == refusal(
        reader, "dynamodb:PartiQLInsert", table_arn(table))
    assert error_of(lambda: db.execute_transaction(TransactStatements=mixed))[1] == refusal(
        reader, "dynamodb:PartiQLDelete", table_arn(table))


def test_a_full_scan_is_refused_where_the_policy_denies_it(emulator: Emulator,
                                                            admin: ClientFactory) -> None:
    """ql-iam.md's example: Deny dynamodb:PartiQLSelect when dynamodb:FullTableScan is true."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    no_scans = session_for(emulator, make_role(
        admin, allow("dynamodb:PartiQLSelect", table_arn(table)),
        deny("dynamodb:PartiQLSelect", table_arn(table),
             Condition={"Bool": {"dynamodb:FullTableScan": "true"}})))
    db = as_session(emulator, no_scans, "dynamodb")
    db.execute_statement(Statement=statements(table)["PartiQLSelect"])  # ALLOWED: binds pk
    code, message = error_of(lambda: db.execute_statement(Statement=f'SELECT * FROM "{table}"'))
    assert (code, message.endswith("with an explicit deny in an identity-based policy")) == (
        "AccessDeniedException", True)


def test_a_transaction_statement_carries_its_enclosing_operation(emulator: Emulator,
                                                                  admin: ClientFactory) -> None:
    """ql-iam.md's example: PartiQL allowed only inside ExecuteTransaction."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    only_tx = session_for(emulator, make_role(admin, allow(
        "dynamodb:PartiQLInsert", table_arn(table),
        Condition={"StringEquals": {"dynamodb:EnclosingOperation": ["ExecuteTransaction"]}})))
    db = as_session(emulator, only_tx, "dynamodb")
    insert = statements(table)["PartiQLInsert"]
    assert error_of(lambda: db.execute_statement(Statement=insert)) == (
        "AccessDeniedException", refusal(only_tx, "dynamodb:PartiQLInsert", table_arn(table)))
    db.execute_transaction(TransactStatements=[{"Statement": insert}])  # ALLOWED


@pytest.mark.parametrize(("text", "parameters", "context"), [
    ("SELECT * FROM \"t\" WHERE pk = 'a'", [],
     {"dynamodb:LeadingKeys": ["a"], "dynamodb:FullTableScan": ["false"],
      "dynamodb:Select": ["ALL_ATTRIBUTES"]}),
    ("SELECT a, \"b\".c FROM t WHERE \"pk\" IN ['a', 'b'] AND sk > 3", [],
     {"dynamodb:LeadingKeys": ["a", "b"], "dynamodb:FullTableScan": ["false"],
      "dynamodb:Select": ["SPECIFIC_ATTRIBUTES"], "dynamodb:Attributes": ["a", "b"]}),
    ("SELECT * FROM t WHERE pk = 'a' OR pk = ?", [{"S": "z"}],
     {"dynamodb:LeadingKeys": ["a", "z"], "dynamodb:FullTableScan": ["false"],
      "dynamodb:Select": ["ALL_ATTRIBUTES"]}),
    ("SELECT * FROM t WHERE pk = 'a' OR x = 'b'", [],  # one branch reads every partition
     {"dynamodb:FullTableScan": ["true"], "dynamodb:Select": ["ALL_ATTRIBUTES"]}),
    ("SELECT * FROM t WHERE pkx = 'a'", [],
     {"dynamodb:FullTableScan": ["true"], "dynamodb:Select": ["ALL_ATTRIBUTES"]}),
    ("SELECT * FROM t.idx WHERE 'q' = pk", [],
     {"dynamodb:LeadingKeys": ["q"], "dynamodb:FullTableScan": ["false"],
      "dynamodb:Select": ["ALL_PROJECTED_ATTRIBUTES"]}),
    ("INSERT INTO t VALUE {'pk': 'it''s', 'n': 5, 'm': {'pk': 'inner'}}", [],
     {"dynamodb:LeadingKeys": ["it's"], "dynamodb:Attributes": ["pk", "n", "m"]}),
    ("INSERT INTO t VALUE {'pk': ?, 'n': ?}", [{"S": "p1"}, {"N": "3"}],
     {"dynamodb:LeadingKeys": ["p1"], "dynamodb:Attributes": ["pk", "n"]}),
    ("UPDATE t SET \"note\" = 'x' SET b.c = list_append(b, ?) REMOVE d "
     "WHERE pk = 'a' AND sk = 's' RETURNING ALL NEW *", [{"L": []}],
     {"dynamodb:LeadingKeys": ["a"], "dynamodb:Attributes": ["note", "b", "d"],
      "dynamodb:ReturnValues": ["ALL_NEW"]}),
    ("DELETE FROM t WHERE pk = 3 AND sk = 's' RETURNING ALL OLD *", [],
     {"dynamodb:LeadingKeys": ["3"], "dynamodb:ReturnValues": ["ALL_OLD"]}),
])
def test_a_statement_carries_the_keys_its_item_api_twin_carries(
        text: str, parameters: list[dict[str, object]], context: dict[str, list[str]]) -> None:
    """The Service Authorization Reference's condition keys of the PartiQL actions, read as
    their item-API twins carry them (docs/semantics.md, PartiQL rows)."""
    [check] = partiql.checks("ExecuteStatement", {"Statement": text, "Parameters": parameters},
                             lambda t: t, partition_key=lambda table, index: "pk")
    assert check.context == context


def test_a_foreign_partition_is_refused_to_partiql_under_leading_keys(
        emulator: Emulator, admin: ClientFactory) -> None:
    """A per-identity policy confines PartiQL as it confines GetItem: the statement's key is
    the request's dynamodb:LeadingKeys (a target that carried none would allow it)."""
    table = make_table(admin, seed={"pk": "someone-else", "sk": "s"})
    own = session_for(emulator, make_role(admin, allow(
        "dynamodb:PartiQLSelect", table_arn(table), Condition={"ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}})))
    db = as_session(emulator, own, "dynamodb")
    db.execute_statement(Statement=f"SELECT * FROM \"{table}\" WHERE pk = '{IDENTITY}'")
    assert error_of(lambda: db.execute_statement(
        Statement=f"SELECT * FROM \"{table}\" WHERE pk = 'someone-else'")) == (
        "AccessDeniedException", refusal(own, "dynamodb:PartiQLSelect", table_arn(table)))


def test_a_batch_is_all_reads_or_all_writes(emulator: Emulator, admin: ClientFactory) -> None:
    """ql-reference.multiplestatements.batching: 'The entire batch must consist of either read
    statements or write statements'; a batch's SELECTs name the whole key and are served."""
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    anything = session_for(emulator, make_role(admin, allow("dynamodb:*")))
    db = as_session(emulator, anything, "dynamodb")
    texts = statements(table)
    read = f"SELECT * FROM \"{table}\" WHERE pk = '{IDENTITY}' AND sk = 's'"
    assert error_of(lambda: db.batch_execute_statement(Statements=[
        {"Statement": read}, {"Statement": texts["PartiQLInsert"]}])) == (
        "ValidationException", partiql.MIXED_BATCH)
    [answer] = db.batch_execute_statement(Statements=[{"Statement": read}])["Responses"]
    assert answer["Item"] == {"pk": {"S": IDENTITY}, "sk": {"S": "s"}}


def test_an_unparseable_statement_is_a_validation_error(emulator: Emulator,
                                                        admin: ClientFactory) -> None:
    anything = session_for(emulator, make_role(admin, allow("dynamodb:*")))
    assert error_of(lambda: as_session(emulator, anything, "dynamodb").execute_statement(
        Statement="UPSERT INTO nowhere")) == (
        "ValidationException",
        "Statement wasn't well formed, can't be processed: Expected data manipulation")


@pytest.mark.parametrize(("text", "verb", "table", "index"), [
    ('SELECT a, b FROM "t-1" WHERE pk = ?', "SELECT", "t-1", None),
    ('select * from "t"."idx"', "SELECT", "t", "idx"),
    ("SELECT *\nFROM books.ByAuthor", "SELECT", "books", "ByAuthor"),
    ("INSERT INTO \"t\" VALUE {'pk': 'x'}", "INSERT", "t", None),
    ("UPDATE \"t\" REMOVE a WHERE pk = 'x'", "UPDATE", "t", None),
    ("DELETE FROM t WHERE pk = 'x'", "DELETE", "t", None),
    ('SELECT * FROM "we""ird"', "SELECT", 'we"ird', None),
])
def test_parse_reads_verb_table_and_index(text: str, verb: str, table: str,
                                          index: str | None) -> None:
    assert partiql.parse(text) == partiql.Statement(verb, table, index)


@pytest.mark.parametrize("text", ["", "EXISTS(SELECT * FROM t)", "SELECT 1", "DROP TABLE t",
                                  "INSERT INTO t"])
def test_parse_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(AwsError) as refused:
        partiql.parse(text)
    assert refused.value.code == "ValidationException"


# --------------------------------------------------------------------------- faults


def test_fault_partiql_as_legacy_action(faulty_emulator: Callable[..., Emulator],
                                        admin: ClientFactory) -> None:
    table = make_table(admin, seed={"pk": IDENTITY, "sk": "s"})
    role = make_role(admin, allow("dynamodb:DeleteItem", table_arn(table)))
    faulty = faulty_emulator("partiql-as-legacy-action")
    as_session(faulty, session_for(faulty, role), "dynamodb").execute_statement(
        Statement=statements(table)["PartiQLDelete"])  # ALLOWED: the fault's lie
    assert "Item" not in admin("dynamodb").get_item(TableName=table, Key=key(IDENTITY))


def test_fault_control_plane_unchecked(emulator: Emulator,
                                       faulty_emulator: Callable[..., Emulator],
                                       admin: ClientFactory) -> None:
    table = make_table(admin)
    role = make_role(admin, allow("dynamodb:GetItem", table_arn(table)))
    assert error_of(lambda: as_session(emulator, session_for(emulator, role), "dynamodb")
                    .delete_table(TableName=table))[0] == "AccessDeniedException"
    faulty = faulty_emulator("authz-control-plane-unchecked")
    db = as_session(faulty, session_for(faulty, role), "dynamodb")
    assert error_of(lambda: db.put_item(TableName=table, Item=key(IDENTITY)))[0] == (
        "AccessDeniedException")  # the data plane is still checked
    db.delete_table(TableName=table)  # ALLOWED: the fault's lie


def test_fault_iam_unchecked(emulator: Emulator, faulty_emulator: Callable[..., Emulator],
                             admin: ClientFactory) -> None:
    role = make_role(admin, allow("dynamodb:GetItem", "*"))
    name = role.rsplit("/", 1)[-1]
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", ' \
               '"Resource": "*"}]}'
    refused = error_of(lambda: as_session(emulator, session_for(emulator, role), "iam")
                       .put_role_policy(RoleName=name, PolicyName="up", PolicyDocument=document))
    assert refused[0] == "AccessDenied"
    faulty = faulty_emulator("authz-iam-unchecked")
    as_session(faulty, session_for(faulty, role), "iam").put_role_policy(
        RoleName=name, PolicyName="up", PolicyDocument=document)  # ALLOWED: the fault's lie
    assert "up" in admin("iam").list_role_policies(RoleName=name)["PolicyNames"]
