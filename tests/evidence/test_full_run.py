"""One conformance run end to end: its outputs hold no secret, its bundle verifies,
`rolecall diff` finds the flipped expectation, and both reports render in headless Chromium.

Three real runs of the suite (pytest subprocesses on the embedded target, scenario
`books`): as written, and with BooksReadAccess wrongly claimed to allow PutItem.
The second fails four cells whose AccessDenied messages name the account: the
failure path is exercised too, and must reach JUnit, Allure and the terminal masked.
The third ("leaky") adds the `tokens` scenario on a target that accepts forged and
access tokens, with `-l --tb=long`, and breaks the resigned-token cells with a
RuntimeError whose frames hold raw tokens in their locals (a failed assertion reads
verdict first, without locals); tests/evidence/secret_spy.py writes down every
secret boto3 carried in that run, and each one is searched for BY VALUE in
everything the run left.
The browser is the Chromium shipped in the npm package @sparticuz/chromium, driven
by playwright-core, both installed into ./node_modules by rolecall.tools.nodetools:
nothing is skipped when a tool is missing, the test fails and says why.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

from rolecall.reporting import evidence
from rolecall.tools import nodetools

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_ACCOUNT = "123456789012"  # rolecall.emulator.ACCOUNT_ID, written out: no import
FLIPPED = sorted(f"books-{variant}-enhanced-testuser1-{action}"
                 for variant in ("token-authrole", "token-deny")
                 for action in ("PutItem", "TransactWriteItems"))  # TransactWriteItems needs PutItem

# The scanner is written apart from rolecall.reporting.redact on purpose: it looks for the
# emulator's own shapes of each secret, so a gap in the redactor shows up here.
LEAKS = {
    "JWT (ID/access/OIDC token)": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"),
    "temporary access key id": re.compile(r"ASIA[0-9A-F]{16}"),
    "session token": re.compile(r"IQoJ[A-Za-z0-9_-]{60,}"),
    "user password": re.compile(r"Rc![0-9a-f]{24}aA1"),
    "unmasked account id": re.compile(EMULATOR_ACCOUNT),
}
SECRET_KEY = re.compile(r"(?<![A-Za-z0-9_/+-])[A-Za-z0-9_/+-]{40}(?![A-Za-z0-9_/+=-])")


def _looks_random(word: str) -> bool:
    return (len(set(word)) >= 22 and any(c.isdigit() for c in word)
            and any(c.isupper() for c in word) and any(c.islower() for c in word))


def leaks_in(text: str) -> list[str]:
    found = [f"{kind}: {m.group(0)[:12]}..." for kind, rx in LEAKS.items()
             for m in rx.finditer(text)]
    found += [f"secret key: {m.group(0)[:6]}..." for m in SECRET_KEY.finditer(text)
              if _looks_random(m.group(0))]
    return found


EMBEDDED = re.compile(r"d\(\"([^\"]+)\",\"([A-Za-z0-9+/=]*)\"\)")  # Allure 3 single-file data
BASE64_BLOB = re.compile(r"[A-Za-z0-9+/=]{200,}")


def readable_text(path: Path) -> str:
    """What a file says: the Allure single-file report's embedded data is decoded first.

    That report base64-encodes every result and attachment (and its own scripts);
    a scan of the raw page would see none of the data, so the data is decoded and
    the remaining blobs, the report's own code, are left out.
    """
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix != ".html" or "window.allureReportData" not in text:
        return text
    decoded = [base64.b64decode(payload).decode("utf-8", errors="replace")
               for _name, payload in EMBEDDED.findall(text)]
    assert decoded, f"{path}: no embedded report data found; has the Allure format changed?"
    return "\n".join([BASE64_BLOB.sub("", EMBEDDED.sub("", text)), *decoded])


@dataclass
class RunOutputs:
    root: Path
    junit: Path
    allure: Path
    bundle: Path
    stdout: str


def suite_command(tmp: Path, scenario_dir: Path = ROOT / "scenarios", workers: int = 2,
                  extra: Sequence[str] = ()) -> list[str]:
    """`pytest suites --scenario books` on the embedded target, its outputs under `tmp`."""
    return [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", str(workers),
            "-p", "no:cacheprovider", "-p", "no:randomly", "--scenario-dir", str(scenario_dir),
            "--scenario", "books", f"--junitxml={tmp / 'junit.xml'}",
            f"--alluredir={tmp / 'allure-results'}", "--clean-alluredir",
            f"--evidence-dir={tmp / 'reports'}", *extra]


def outputs_of(tmp: Path, said: str) -> RunOutputs:
    """What a finished (or interrupted) run left under `tmp`: exactly one bundle."""
    (tmp / "pytest-output.txt").write_text(said)
    reports = tmp / "reports"
    bundles = [p for p in reports.iterdir() if p.is_dir()] if reports.is_dir() else []
    assert len(bundles) == 1, f"no evidence bundle; pytest said:\n{said[-3000:]}"
    return RunOutputs(tmp, tmp / "junit.xml", tmp / "allure-results", bundles[0], said)


def conformance_run(tmp: Path, scenario_dir: Path, extra: Sequence[str] = (),
                    env: dict[str, str] | None = None) -> RunOutputs:
    tmp.mkdir(parents=True)
    done = subprocess.run(suite_command(tmp, scenario_dir, extra=extra), cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env=env)
    return outputs_of(tmp, done.stdout + done.stderr)


def _shared(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One folder for the whole pytest invocation, whichever xdist worker asks first."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "rolecall-full-run"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, RunOutputs]:
    """The two runs, made once per pytest invocation even when several workers need them."""
    shared = _shared(tmp_path_factory, worker_id)
    with FileLock(f"{shared}.lock"):
        done = shared / "runs.json"
        if not done.is_file():
            made = _two_runs(shared)
            done.write_text(json.dumps({k: {**vars(v), **{f: str(getattr(v, f)) for f in (
                "root", "junit", "allure", "bundle")}} for k, v in made.items()}))
        return {k: RunOutputs(**{**v, **{f: Path(v[f]) for f in ("root", "junit", "allure",
                                                                  "bundle")}})
                for k, v in json.loads(done.read_text()).items()}


# Faults that make token-negative cells fail where the test's frames hold the raw token.
LEAKY_FAULTS = ("token-signature-unchecked", "token-access-token-accepted")


def _two_runs(base: Path) -> dict[str, RunOutputs]:
    """As written, flipped, and leaky (see the module's docstring)."""
    as_written = conformance_run(base / "as-written", ROOT / "scenarios")
    data = yaml.safe_load((ROOT / "scenarios" / "books.yaml").read_text())
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    data["roles"]["BooksReadAccess"]["allowed"].append("PutItem")  # the one flipped expectation
    flipped_dir = base / "flipped-scenarios"
    flipped_dir.mkdir()
    (flipped_dir / "books.yaml").write_text(yaml.safe_dump(data))
    (flipped_dir / "tokens.yaml").write_text((ROOT / "scenarios" / "tokens.yaml").read_text())
    spy = base / "leaky-secrets"  # outside every folder the search reads
    spy.mkdir()
    leaky = conformance_run(
        base / "leaky", flipped_dir, env={**os.environ, "ROLECALL_SECRET_SPY": str(spy),
                                          "ROLECALL_SECRET_SPY_CRASH": "resigned"},
        extra=["--scenario", "tokens", "-l", "--tb=long", "-p", "tests.evidence.secret_spy",
               *[arg for fault in LEAKY_FAULTS for arg in ("--emulator-fault", fault)]])
    return {"as-written": as_written, "flipped": conformance_run(base / "flipped", flipped_dir),
            "leaky": leaky}


@pytest.fixture(scope="module")
def allure_html(runs: dict[str, RunOutputs]) -> Path:
    """`rolecall report` on the flipped run's results: the pinned Allure CLI, from npm."""
    out = runs["flipped"].root / "allure-report"
    with FileLock(f"{out}.lock"):
        if not (out / "index.html").is_file():
            done = subprocess.run([sys.executable, "-m", "rolecall.tools.cli", "report", "--results",
                                   str(runs["flipped"].allure), "--out", str(out)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=1200)
            assert done.returncode == 0, done.stderr[-3000:]
    return out / "index.html"


def test_the_scanner_finds_every_kind_of_secret() -> None:
    import secrets

    samples = {
        "JWT": "eyJraWQiOiJrMSJ9.eyJzdWIiOiJhYmMifQ.c2ln",
        "access key id": "ASIA" + secrets.token_hex(8).upper(),
        "session token": "IQoJ" + secrets.token_urlsafe(120),
        "password": "Rc!" + secrets.token_hex(12) + "aA1",
        "account": f"arn:aws:iam::{EMULATOR_ACCOUNT}:role/x",
        "secret key": "k=" + next(s for s in iter(lambda: secrets.token_urlsafe(30), None)
                                  if _looks_random(s)),
    }
    for kind, sample in samples.items():
        assert leaks_in(f"<x>{sample}</x>"), f"the scanner misses a {kind}"
    assert leaks_in("books-token-deny-enhanced-testuser1-Scan ********9012 ok") == []


def test_a_run_leaves_junit_allure_results_and_a_verified_bundle(
        runs: dict[str, RunOutputs]) -> None:
    for name, run in runs.items():
        assert run.junit.is_file(), name
        assert list(run.allure.glob("*-result.json")), name
        checked = evidence.verify(run.bundle)
        assert checked.intact, checked.problems
        assert checked.manifest_sha256 in run.stdout  # printed for the CI log
        assert {p.name for p in run.bundle.iterdir()} == {
            "evidence.json", "matrix.html", "summary.md", "manifest.json", "junit.xml",
            "rules.html", "assessment-results.json"}


def _scan(runs: dict[str, RunOutputs]) -> tuple[int, list[str]]:
    scanned, leaks = 0, []
    for run in runs.values():
        for path in sorted(p for p in run.root.rglob("*") if p.is_file()):
            text = readable_text(path)
            leaks += [f"{path.relative_to(run.root.parent)}: {leak}" for leak in leaks_in(text)]
            scanned += 1
    return scanned, leaks


@pytest.mark.browser
def test_the_allure_html_report_holds_no_secret(runs: dict[str, RunOutputs],
                                                 allure_html: Path) -> None:
    assert "observed role" in readable_text(allure_html)  # the report's data was read
    _, leaks = _scan(runs)  # now including the generated report
    assert not leaks, "\n".join(leaks[:40])


def spied_secrets(run: RunOutputs) -> dict[str, set[str]]:
    """What tests/evidence/secret_spy.py wrote down for a run: kind -> values."""
    found: dict[str, set[str]] = {}
    for path in (run.root.parent / "leaky-secrets").glob("secrets-*.tsv"):
        for line in path.read_text().splitlines():
            kind, _, value = line.partition("\t")
            found.setdefault(kind, set()).add(value)
    return found


def test_no_secret_the_run_handled_is_found_by_value_in_any_output(
        runs: dict[str, RunOutputs]) -> None:
    leaky = runs["leaky"]
    spied = spied_secrets(leaky)
    assert {"Password", "PASSWORD", "IdToken", "AccessToken", "RefreshToken", "Logins",
            "AccessKeyId", "SecretKey", "SessionToken", "run-key"} <= set(spied), sorted(spied)
    secrets = set().union(*spied.values())
    texts = {path: readable_text(path) for path in sorted(leaky.root.rglob("*")) if path.is_file()}
    texts[leaky.root / "terminal"] = leaky.stdout
    found = [f"{path.relative_to(leaky.root.parent)}: {kind} {value[:6]}..."
             for kind, values in spied.items() for value in values
             for path, text in texts.items() if value in text]
    # pytest shortens long locals to head...tail: no 16-character piece of a secret either
    # (but a JWT's head: its header is the same for every token of a pool, and public)
    pieces = {(kind, piece) for kind, values in spied.items() for value in values
              for piece in ([value[-16:]] if value.startswith("eyJ") else [value[:16], value[-16:]])}
    cut = [f"{path.relative_to(leaky.root.parent)}: a piece of a {kind}"
           for kind, piece in pieces for path, text in texts.items() if piece in text]
    print(f"\nsearched {len(secrets)} secrets "
          f"({', '.join(f'{k} {len(v)}' for k, v in sorted(spied.items()))}) and {len(pieces)} "
          f"pieces in {len(texts)} outputs: found {len(found)} secrets, {len(cut)} pieces")
    assert len(secrets) > 50 and len(texts) > 100
    assert not found, "\n".join(found[:40])
    assert not cut, "\n".join(cut[:40])
    # ... and the run did put secrets where a writer could leak them: the locals of the
    # frames of the spy's crashes (resigned tokens in Logins), which -l prints
    assert "secret spy: GetId broken on purpose" in leaky.stdout
    assert "logins" in leaky.stdout and "[REDACTED:id-token]" in leaky.stdout
    assert "[REDACTED:id-token]" in leaky.junit.read_text()


def test_no_output_file_holds_a_secret_or_an_unmasked_account(
        runs: dict[str, RunOutputs]) -> None:
    scanned, leaks = _scan(runs)
    assert scanned > 500  # allure results and attachments of two runs, junit, bundles
    assert not leaks, "\n".join(leaks[:40])
    # ... and the redaction really had something to hide: masked account ids are there.
    flipped = runs["flipped"]
    assert "********9012" in flipped.junit.read_text()  # AccessDenied messages, masked
    assert "********9012" in flipped.stdout
    claims = [p for p in runs["as-written"].allure.glob("*-attachment.json")
              if "cognito:roles" in p.read_text()]
    assert claims and all("********9012" in p.read_text() for p in claims)


def test_diff_of_the_two_runs_lists_exactly_the_flipped_cells(
        runs: dict[str, RunOutputs]) -> None:
    old, new = runs["as-written"].bundle, runs["flipped"].bundle
    changes = evidence.diff(old, new)
    assert [c.id for c in changes] == FLIPPED
    assert all(c.fields["expected"] == ("DENIED", "ALLOWED") for c in changes)
    done = subprocess.run([sys.executable, "-m", "rolecall.tools.cli", "diff", str(old), str(new)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == FLIPPED


def test_tampering_with_one_byte_fails_rolecall_verify(runs: dict[str, RunOutputs],
                                                       tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / runs["as-written"].bundle.name
    shutil.copytree(runs["as-written"].bundle, copy)
    command = [sys.executable, "-m", "rolecall.tools.cli", "verify", str(copy)]
    assert subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    data = bytearray((copy / "evidence.json").read_bytes())
    data[data.index(b"ALLOWED")] = ord("a")
    (copy / "evidence.json").write_bytes(bytes(data))
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "evidence.json: modified" in done.stdout


def _allure_results(run: RunOutputs) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in run.allure.glob("*-result.json")]


def test_every_cell_carries_its_allure_labels_links_and_attachments(
        runs: dict[str, RunOutputs]) -> None:
    results = _allure_results(runs["as-written"])
    assert len(results) > 100
    for result in results:
        labels = {label["name"]: label["value"] for label in result["labels"]}
        assert labels["epic"] == "books", result["name"]
        assert {"feature", "story", "severity"} <= set(labels), result["name"]
        assert "Scenario(" not in json.dumps(result["parameters"])  # ids, not object reprs
    access = next(r for r in results
                  if r["name"] == "test_access[books-token-authrole-enhanced-testuser1-Query]")
    labels = {label["name"]: label["value"] for label in access["labels"]}
    assert (labels["feature"], labels["story"], labels["severity"]) == (
        "token-authrole", "enhanced", "normal")
    params = {p["name"]: p["value"].strip("'") for p in access["parameters"]}
    assert {k: params[k] for k in ("user", "groups", "expected role", "observed role", "action",
                                   "expected", "observed")} == {
        "user": "testuser1", "groups": "BooksRead", "expected role": "BooksReadAccess",
        "observed role": "BooksReadAccess", "action": "Query", "expected": "ALLOWED",
        "observed": "ALLOWED"}
    assert access["links"][0]["name"] == "SPEC D1"
    assert any(link["name"].startswith("expectation source: seed 002")
               for link in access["links"])
    names = {a["name"] for a in access["attachments"]}
    assert {"AWS request ids", "role obtained"} <= names
    role = next(a for a in access["attachments"] if a["name"] == "role obtained")
    obtained = json.loads((runs["as-written"].allure / role["source"]).read_text())
    assert obtained["role_arn"].startswith("arn:aws:iam::********9012:role/")
    claims = next(r for r in results if r["name"] == "test_id_token_claims[books-editor]")
    assert "ID token claims (decoded, redacted)" in {a["name"] for a in claims["attachments"]}


def test_no_link_in_the_reports_leaves_the_report_folder(runs: dict[str, RunOutputs]) -> None:
    """Allure links and matrix.html links resolve inside the report (rules.html, scenarios/)."""
    links = [link["url"] for result in _allure_results(runs["flipped"])
             for link in result.get("links", [])]
    assert links and all(not re.match(r"([a-z]+:|/|\.\./)", url) for url in links), \
        sorted({u for u in links if re.match(r"([a-z]+:|/|\.\./)", u)})[:5]
    assert {url.split("#")[0] for url in links} <= {"rules.html"} | {
        f"scenarios/{p.name}" for p in (ROOT / "scenarios").glob("*.yaml")}
    bundle = runs["flipped"].bundle
    for href in re.findall(r'href="([^"#]*)', (bundle / "matrix.html").read_text()):
        assert not href or (bundle / href).is_file(), f"matrix.html links {href} outside the bundle"


def test_escalation_and_trust_failures_are_critical(runs: dict[str, RunOutputs]) -> None:
    from rolecall.reporting.allure_labels import severity

    assert severity({"kind": "credential", "flow": "classic=Admin",
                     "expected": "ISSUED(Admin)"}) == "critical"
    assert severity({"kind": "credential", "flow": "classic=Admin",
                     "expected": "REFUSED(InvalidParameterException)"}) == "normal"
    assert severity({"kind": "credential", "flow": "enhanced", "rule": "E11"}) == "critical"
    assert severity({"kind": "credential", "flow": "classic=Reader", "rule": "C6"}) == "critical"
    assert severity({"kind": "access", "flow": "enhanced", "rule": "D1"}) == "normal"
    severities = {r["name"]: next(label["value"] for label in r["labels"]
                                  if label["name"] == "severity")
                  for r in _allure_results(runs["as-written"])}
    assert set(severities.values()) <= {"normal", "critical"}


# --- screenshots in headless Chromium --------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> tuple[Path, Path]:
    prefix = nodetools.ensure(ROOT)
    return prefix, nodetools.chromium(prefix)


def screenshot(browser: tuple[Path, Path], url: str, png: Path, selector: str,
               clicks: Sequence[str] = (), size: tuple[int, int] = (1600, 1000)) -> dict[str, Any]:
    prefix, chromium = browser
    env = {**os.environ, "ROLECALL_CHROMIUM_ARGS": json.dumps(nodetools.CHROMIUM_ARGS),
           "ROLECALL_CLICKS": json.dumps(list(clicks))}
    done = subprocess.run(["node", str(Path(__file__).with_name("screenshot.cjs")), str(prefix),
                           str(chromium), url, str(png), selector, str(size[0]), str(size[1])],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert png.is_file() and png.stat().st_size > 20_000  # a rendered page, not a blank one
    page: dict[str, Any] = json.loads(done.stdout)
    assert all(u.startswith(("file:", "data:", "blob:")) for u in page["requests"]), page["requests"]
    return page


def _cell_count(bundle: Path) -> int:
    """The run's cells, as its bundle counts them (the pages must show the same number)."""
    return len(json.loads((bundle / evidence.EVIDENCE).read_text())["cells"])


@pytest.mark.browser
def test_matrix_html_renders_its_grid_offline(runs: dict[str, RunOutputs],
                                              browser: tuple[Path, Path]) -> None:
    bundle = runs["flipped"].bundle
    png = runs["flipped"].root / "matrix.png"
    page = screenshot(browser, (bundle / "matrix.html").as_uri(), png, "table.grid")
    assert page["count"] == 2  # one grid per variant of books
    text = page["text"]
    assert f"{_cell_count(bundle)} cells" in text and "4 failed" in text
    assert "variant token-authrole" in text and "variant token-deny" in text
    assert text.count("expected ALLOWED") == 4  # the flipped cells, marked in the grid
    assert "ISSUED(BooksReadAccess)" in text and "DENIED" in text


@pytest.mark.browser
def test_the_allure_report_renders_the_cells(runs: dict[str, RunOutputs], allure_html: Path,
                                             browser: tuple[Path, Path]) -> None:
    root = runs["flipped"].root
    overview = screenshot(browser, allure_html.as_uri(), root / "allure-overview.png",
                          "[data-testid=tree-leaf-status-failed]", clicks=["[data-testid=tab-failed]"])
    text = overview["text"]
    assert f"{_cell_count(runs['flipped'].bundle)}" in text  # every cell of the run
    assert "books" in text and "token-authrole" in text  # grouped as the matrix
    assert overview["count"] == 4  # the flipped cells, failed in the tree
    assert "emulated" in text and "********9012" in text  # the run's environment
    failing = "test_access[books-token-authrole-enhanced-testuser1-PutItem]"
    detail = screenshot(browser, allure_html.as_uri(), root / "allure-failed-cell.png",
                        "[data-testid=test-result-error-message]",
                        clicks=["[data-testid=tab-failed]", failing])
    text = detail["text"]
    assert "expected ALLOWED, observed DENIED" in text and "Spec violation" in text  # category
    assert "observed role" in text and "SPEC D1" in text and "role obtained" in text
    assert "********9012" in text and EMULATOR_ACCOUNT not in text


@pytest.mark.browser
def test_a_second_report_in_the_same_folder_extends_the_trend(runs: dict[str, RunOutputs],
                                                              allure_html: Path,
                                                              tmp_path: Path) -> None:
    report = tmp_path / "allure-report"  # a copy: the shared report stays as the others read it
    shutil.copytree(allure_html.parent, report)
    history = report / "history.jsonl"
    before = len(history.read_text().splitlines())
    done = subprocess.run([sys.executable, "-m", "rolecall.tools.cli", "report", "--results",
                           str(runs["as-written"].allure), "--out", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(history.read_text().splitlines()) == before + 1
