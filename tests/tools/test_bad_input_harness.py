"""`python -m pipeline bad-inputs`: every bad input gets its expected outcome, nothing is lost or fetched.

Runs the real CLI on the bad-input corpus (the 50 MB publication scaled down
to 2 MB), then reads the manifests, reject files and outputs it left behind.
"""

import os
import subprocess
import sys

import pytest

from pipeline.tools.bad_inputs import cases as bad_input_cases
from pipeline.tools.bad_inputs import harness as bad_input_harness
from pipeline.tools.bad_inputs import run_cases
from tests.helpers import REPO

pytestmark = pytest.mark.slow

BIG_MB = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bad") / "작업 폴더 with spaces"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "bad-inputs", "--out", str(work), "--big-mb", str(BIG_MB)],
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return str(work), result


def test_command_succeeds_and_prints_every_case(run):
    _, result = run
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    table = result.stdout
    for case in bad_input_cases.cases(BIG_MB):
        assert f"| {case.name} | " in table and f"(`{case.file}`)" in table
    # The run-level cases: each refused in one line, exit 2, every output untouched.
    for case in run_cases.CASES:
        assert f"| {case.name} | {case.what} | {case.expect} | exit 2: " in table
        row = next(line for line in table.splitlines() if line.startswith(f"| {case.name} | "))
        assert row.endswith("| yes | ✓ |"), row
    assert "✗" not in table


def test_every_case_has_its_expected_outcome(run):
    work, _ = run
    cases = bad_input_cases.cases(BIG_MB)
    results = bad_input_harness.collect(
        cases, os.path.join(work, bad_input_harness.CORPUS), os.path.join(work, bad_input_harness.OUTPUT)
    )
    wrong = {
        c.name: (c.expect, results[c.name].outcome) for c in cases if results[c.name].outcome != c.expect
    }
    assert wrong == {}
    missing = [c.name for c in cases if results[c.name].probe_found is False]
    assert missing == []
    leaked = [c.name for c in cases if results[c.name].absent_found]
    assert leaked == [] and any(c.absent for c in cases)
    assert "?" not in results


def test_accounting_identities_and_no_network(run):
    work, _ = run
    output = os.path.join(work, bad_input_harness.OUTPUT)
    cases = bad_input_cases.cases(BIG_MB)
    results = bad_input_harness.collect(cases, os.path.join(work, bad_input_harness.CORPUS), output)
    failed = [f"{c.name}: {c.detail}" for c in bad_input_harness.checks(results, output, work) if not c.ok]
    assert failed == []
    with open(os.path.join(work, bad_input_harness.GUARD_LOG), encoding="utf-8") as f:
        log = f.read().splitlines()
    # The CLI and the DirectRunner's worker processes were all guarded; none was refused anything.
    assert len(log) >= 2 and all(line.endswith(": installed") for line in log)
