"""A run on the team's own stack: deploy a template (embedded target), discover, add users.

Shared by every entry point (suites/conftest.py, `rolecall init`), so `--stack`,
`--identity-pool-id`, `--entitlements`, `--endpoint-url` and `--stack-template`
mean the same everywhere. The order is the promise: everything is read and
validated first (stack, entitlements, app clients, supplied users); only then is
anything created, and each test user is journaled as it lands.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from rolecall.account import testusers
from rolecall.account.cleanup import Journal
from rolecall.account.clients import Target
from rolecall.account.discovery import Discovery, discover
from rolecall.account.probes import ProbeTarget
from rolecall.account.provision import RunSecrets, Stack
from rolecall.model import entitlements as ent
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import Scenario

SCENARIO_FILE = "discovered.scenario.json"


@dataclass(frozen=True)
class OwnStack:
    """Which deployed stack to test, as the command line names it."""

    stack: str | None = None
    identity_pool_id: str | None = None
    entitlements: str | None = None
    stack_template: str | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.stack or self.identity_pool_id or self.stack_template)

    def check(self, needs_entitlements: bool = True) -> None:
        named = [o for o in (self.stack, self.identity_pool_id, self.stack_template) if o]
        if len(named) > 1 and not (self.stack_template and self.stack and len(named) == 2):
            raise ScenarioError("command line", "--stack / --identity-pool-id / --stack-template",
                                "name one stack", "give exactly one of the three")
        if needs_entitlements and not self.entitlements:
            raise ScenarioError("command line", "--entitlements", "a discovered stack needs "
                                "the personas' entitlements", "add --entitlements FILE (write a "
                                "first one with `rolecall init ... --out FILE`)")


def stack_name_of(template: str) -> str:
    """`cdk.out/Seed004Stack.template.json` -> `Seed004Stack` (cdk's own naming)."""
    return Path(template).name.split(".")[0]


def deploy_template(target: Target, template: str, name: str | None = None,
                    timeout: float = 300) -> str:
    """CreateStack on the (embedded) target and wait for CREATE_COMPLETE; the stack's name."""
    name = name or stack_name_of(template)
    try:
        body = Path(template).read_text()
    except OSError as exc:
        raise ScenarioError(template, "--stack-template", f"cannot read it ({exc.strerror})",
                            "give the path of a `cdk synth` template (cdk.out/X.template.json)"
                            ) from None
    cfn = target.client("cloudformation")
    try:
        try:
            cfn.create_stack(StackName=name, TemplateBody=body,
                             Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM",
                                           "CAPABILITY_AUTO_EXPAND"])
        except ClientError as exc:
            # the same template already there: a retried CreateStack (a slow target answers
            # after the client's timeout) or a second run on a running emulator
            if exc.response["Error"]["Code"] != "AlreadyExistsException" or not _same(
                    cfn, name, body):
                raise
        cfn.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": int(timeout)})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AlreadyExistsException":
            raise _not_deployed(cfn, name, template, exc) from None
        raise ScenarioError(template, "--stack-template", f"stack {name} already exists on "
                            f"{target.endpoint_url}", f"test it with --stack {name}, or delete "
                            "it first (aws cloudformation delete-stack)") from None
    except WaiterError as exc:
        raise _not_deployed(cfn, name, template, exc) from None
    return name


def _same(cfn: Any, name: str, body: str) -> bool:
    deployed = cfn.get_template(StackName=name)["TemplateBody"]
    try:
        return bool((deployed if isinstance(deployed, dict) else json.loads(deployed))
                    == json.loads(body))
    except ValueError:  # a YAML template: compare as text
        return bool(deployed == body)


def _not_deployed(cfn: object, name: str, template: str, exc: Exception) -> ScenarioError:
    where, why = _failed_resource(cfn, name)
    return ScenarioError(template, where, why or _reason(exc),
                         "the embedded target deploys the resource types and intrinsics "
                         "of rolecall's CloudFormation support; change the template or "
                         "deploy it to AWS and use --stack")


def _failed_resource(cfn: object, name: str) -> tuple[str, str]:
    """The first resource that failed, and CloudFormation's reason (events are newest first)."""
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]  # type: ignore[attr-defined]
    except ClientError:
        return "template", ""
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED")
              and e.get("LogicalResourceId") != name]
    if not failed:
        return "template", ""
    first = failed[-1]
    return (f"Resources.{first['LogicalResourceId']}",
            f"{first['ResourceStatus']}: {first.get('ResourceStatusReason', 'no reason given')}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response["Error"].get("Message", exc))
    return f"the stack did not reach CREATE_COMPLETE ({exc})"


def read(target: Target, options: OwnStack, runid: str) -> Discovery:
    """Deploy the template first when asked, then discover the stack."""
    stack = options.stack
    if options.stack_template:
        if target.kind != "emulated":
            raise ScenarioError("command line", "--stack-template", "rolecall deploys templates "
                                "only into the embedded target, never into an AWS account",
                                "deploy it yourself (cdk deploy) and test it with --stack NAME")
        stack = deploy_template(target, options.stack_template, options.stack)
    return discover(target, stack=stack, identity_pool_id=None if stack else options.identity_pool_id,
                    runid=runid)


def bind(discovery: Discovery, path: str) -> tuple[Scenario, ent.Entitlements]:
    entitlements = ent.load(path)
    return ent.bind(entitlements, discovery.scenario, discovery.aliases), entitlements


def start(target: Target, discovery: Discovery, scenario: Scenario, entitlements: ent.Entitlements,
          secrets: RunSecrets, state_dir: Path) -> Stack:
    """Check, then create the personas' users; write the stack the workers read."""
    supplied = {p: spec.user for p, spec in entitlements.personas.items() if spec.user}
    created = [p for p in scenario.users if p not in supplied]
    testusers.check_clients(discovery.clients, entitlements.file, supplied=not created)
    # each persona's user pool (an identity pool with several user pools as providers)
    stack = replace(discovery.stack, members={p: scenario.pool_of(p) for p in scenario.users})
    testusers.check_supplied(target, scenario, stack, supplied, entitlements.file)
    journal = Journal(users_journal(state_dir, scenario.name))
    _seed_item(target, scenario, stack, journal)
    users = testusers.create_users(target, scenario, stack, secrets, journal, supplied)
    stack = replace(stack, users=users, supplied_users=sorted(supplied),
                    admin_sign_in=testusers.admin_sign_in(discovery.clients))
    (state_dir / f"{scenario.name}.stack.json").write_text(json.dumps(asdict(stack)))
    (state_dir / SCENARIO_FILE).write_text(scenario.model_dump_json(exclude_unset=True))
    return stack


def _aims(scenario: Scenario, stack: Stack) -> list[ProbeTarget]:
    """Every table of the stack the probes write to: the main one and each other one (the
    requests over two tables write the same probe items as those on each table alone)."""
    if scenario.table is None:
        return []
    return [ProbeTarget.of(stack.table_name, scenario.table),
            *(ProbeTarget.of(stack.other_tables[t.name], t) for t in scenario.other_tables)]


def _seed_item(target: Target, scenario: Scenario, stack: Stack, journal: Journal) -> None:
    """On every table, the item the read probes find, and the probe item writes create: both
    journaled before the seed is written, and removed at the end."""
    for aim in _aims(scenario, stack):
        for key in (aim.probe_key, aim.seed_key):
            journal.record(testusers.ITEM_KIND, f"{aim.table} {json.dumps(key)}")
        target.client("dynamodb").put_item(TableName=aim.table, Item=aim.seed_key)


def journal_probe_item(state_dir: Path, scenario: Scenario, stack: Stack) -> None:
    """Each of a team's tables gets one probe item per writing process
    (probes.writer_index): each process journals its own, on every table, before its first
    probe, so teardown and sweep know them all. Stacks rolecall made have no users journal:
    their tables go whole."""
    journal = users_journal(state_dir, scenario.name)
    if not journal.exists():
        return
    for aim in _aims(scenario, stack):
        Journal(journal).record(testusers.ITEM_KIND, f"{aim.table} {json.dumps(aim.probe_key)}")


def journal_partition(state_dir: Path, scenario: Scenario, stack: Stack, partition: str) -> None:
    """On a team's partitioned table, the seed and probe items of one partition (a caller's
    own, or the foreign one a probe aims at) go in the journal before they are written."""
    journal = users_journal(state_dir, scenario.name)
    if scenario.table is None or not journal.exists():
        return
    aim = ProbeTarget.of(stack.table_name, scenario.table, partition)
    for key in (aim.probe_key, aim.seed_key):
        Journal(journal).record(testusers.ITEM_KIND,
                                f"{stack.table_name} {json.dumps(key)}")


def users_journal(state_dir: Path, scenario: str) -> Path:
    return state_dir / f"{scenario}.users.jsonl"


def load_bound(state_dir: Path) -> Scenario | None:
    """The bound scenario the controller wrote (pytest-xdist workers read it)."""
    path = state_dir / SCENARIO_FILE
    return Scenario.model_validate_json(path.read_text()) if path.exists() else None


def teardown(target: Target, state_dir: Path) -> list[str]:
    failures: list[str] = []
    for path in sorted(state_dir.glob("*.users.jsonl")):
        failures.extend(testusers.teardown_users(target, Journal(path)))
    return failures
