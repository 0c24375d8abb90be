"""A stage killed mid-run leaves nothing that looks complete, and a rerun repairs it."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.helpers import REPO, read_tree

pytestmark = pytest.mark.slow


def _files(root, stage):
    out = {}
    folder = os.path.join(root, stage)
    for dirpath, _, names in os.walk(folder):
        for name in names:
            if name != "manifest.json":
                with open(os.path.join(dirpath, name), "rb") as f:
                    out[os.path.relpath(os.path.join(dirpath, name), folder)] = f.read()
    return out


def _config(tmp_path, corpus, name):
    with open(os.path.join(REPO, "pipeline.yaml"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["output_root"] = str(tmp_path / name)
    data["inputs"] = [
        {"glob": str(corpus / "kipo_xml" / "*.xml"), "format": "kipo_xml"},
        {"glob": str(corpus / "jsonl" / "*.jsonl"), "format": "jsonl"},
    ]
    # The word lists as the repo has them (a stage refuses to start on a missing one).
    for key in ("stop_list", "units_list"):
        data["nouns"][key] = os.path.join(REPO, data["nouns"][key])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def _cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True, text=True, **kwargs
    )


def test_sigkill_mid_stage_then_rerun_matches_an_uninterrupted_run(tmp_path):
    corpus = tmp_path / "corpus"
    assert _cli("generate-corpus", "--docs", "1500", "--out", str(corpus)).returncode == 0
    killed, clean_run = _config(tmp_path, corpus, "killed"), _config(tmp_path, corpus, "reference")
    killed_root = str(tmp_path / "killed")

    # Start ingest+clean in its own process group and SIGKILL the whole group
    # (the CLI and Beam's worker processes) once clean has started writing.
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--to", "clean", "--config", killed],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not os.path.isdir(
        os.path.join(killed_root, ".staging", "clean", "_tmp")
    ):
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    status = _cli("status", "--config", killed).stdout.splitlines()
    assert status[0].split()[:2] == ["ingest", "done"]
    assert status[1].split()[:2] == ["clean", "incomplete"]
    refused = _cli("stage", "nouns", "--config", killed)
    assert refused.returncode == 2 and "needs clean" in refused.stderr

    rerun = _cli("run", "--to", "clean", "--config", killed)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "[ingest] up to date, skipped" in rerun.stderr
    reference = _cli("run", "--to", "clean", "--config", clean_run)
    assert reference.returncode == 0, reference.stderr[-3000:]
    for stage in ("ingest", "clean"):
        assert _files(killed_root, stage) == _files(str(tmp_path / "reference"), stage), stage
    assert not os.path.exists(os.path.join(killed_root, "clean", "_tmp"))


# Files that record measurements (seconds, memory) of the run that made them, and
# the run report (report/), which shows when each stage finished. Everything else
# must be byte-identical.
NOT_COMPARED = ("nouns/scoring.json", "dictionary/report.json", "report/")


def _all_outputs(root):
    return {
        rel: data
        for rel, data in read_tree(root).items()
        if os.path.basename(rel) != "manifest.json" and not rel.startswith(NOT_COMPARED)
    }


def test_every_stage_is_byte_identical_across_runner_modes_and_workers(demo_tfrecords, demo_copy, tmp_path):
    """The session's demo run (multi_processing, one worker per core) against a run in one
    process with one worker: every Beam stage (train is TFX, tested in
    tests/stages/test_train.py) writes the same bytes."""
    before = _all_outputs(demo_tfrecords)
    assert any(k.startswith("tfrecords/") for k in before) and any(
        k.startswith("vocab/bert/") for k in before
    )
    second = _cli(
        "run",
        "--to",
        "tfrecords",
        "--config",
        demo_copy,
        "--",
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
    )
    assert second.returncode == 0, second.stderr[-3000:]
    after = _all_outputs(tmp_path / "out")
    assert sorted(after) == sorted(before)
    assert [k for k in before if before[k] != after[k]] == []
