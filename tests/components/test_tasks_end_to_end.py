"""The TFX side of the demo, end to end through the CLI: `train` (killed once it has a
checkpoint, then resumed), a forced rerun served from TFX's cache, `finetune`, `evaluate
--task ner|cls|qa` and `report`. The tiny encoder pretrained as `make demo` does beats each
task's baseline, and the results table and the run report show it. (Same seed, same scores:
tests/components/test_model_init.py, on a tiny model.)

One test, so that BERT is pretrained once: each step starts from the one before, as in
`make demo`."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.helpers import (
    REPO,
    chromium_command,
    external_references,
    library_noise,
    render_offline,
    run_cli,
    write_demo_config,
)

pytestmark = pytest.mark.slow

# The optimizer's step counter in a trainer checkpoint.
ITERATIONS = "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"


def _demo_train_config(tmp_path):
    """The demo's config with these changes, each to save time where nothing asserted depends on it."""
    config = write_demo_config(tmp_path)
    with open(config, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["train"].update(
        {
            # BERT as long as the demo trains it (the baselines' margins below are the demo
            # model's); ELECTRA is not evaluated: two checkpoints are enough.
            "phases": [{"output": "bert-128", "steps": 60}, {"output": "electra-128", "steps": 20}],
            # The first checkpoint, where the run is killed, comes at step 10. Neither setting
            # changes the weights (checkpoint folders do not depend on them).
            "checkpoint_every": 10,
            "eval_steps": 3,
        }
    )
    # 2 epochs over 64 tokens (the demo: 3 over 128) clear the accuracy margin below.
    data["finetune"].update({"epochs": 2, "max_len": 64})
    with open(config, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, allow_unicode=True)
    return config


def _saved_steps(root):
    """The step of each checkpoint a `checkpoint` state file names (the manager writes it after
    the checkpoint's data, so a step listed here can be restored)."""
    steps = []
    folder = root / "train" / "checkpoints"
    for state in folder.glob("*/checkpoint") if folder.is_dir() else []:
        steps += [
            int(s) for s in re.findall(r'^model_checkpoint_path: "ckpt-(\d+)"', state.read_text(), re.M)
        ]
    return steps


def test_demo_model_trains_resumes_finetunes_and_beats_every_baseline(demo_tfrecords, tmp_path):
    import tensorflow as tf

    config = _demo_train_config(tmp_path)
    root = tmp_path / "out"
    shutil.copytree(demo_tfrecords, root)

    # 1. Killed (SIGKILL, no cleanup) once BERT has a checkpoint past step 0: no export, no
    #    manifest, status says incomplete.
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "train", "--config", config],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while not [s for s in _saved_steps(root) if s > 0] and child.poll() is None:
        assert time.time() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    [killed_folder] = (root / "train" / "checkpoints").iterdir()
    assert killed_folder.name.startswith("bert-128-")
    killed_at = int(tf.train.load_checkpoint(str(killed_folder)).get_tensor(ITERATIONS))
    assert 0 < killed_at < 60
    assert not (root / "train" / "export" / "bert-128").exists()
    assert not (root / "train" / "manifest.json").exists()
    assert "train        incomplete" in run_cli(config, "status").stdout

    # 2. The rerun restores model, optimizer state and step, and finishes both phases.
    trained = run_cli(config, "train")
    assert trained.returncode == 0, trained.stderr[-4000:]
    manifest = json.loads((root / "train" / "manifest.json").read_text())
    assert manifest["counters"]["steps_bert-128"] == 60 and manifest["counters"]["steps_electra-128"] == 20
    bert = manifest["report"]["bert-128"]
    metrics = bert["metrics"]
    assert metrics["resumed_from_step"] >= killed_at
    assert f"resumed from step {metrics['resumed_from_step']}" in trained.stdout + trained.stderr
    assert metrics["steps"] == 60 and metrics["steps_this_run"] == 60 - metrics["resumed_from_step"]
    assert metrics["replicas"] == 2  # MirroredStrategy over 2 logical CPUs
    assert os.path.samefile(bert["checkpoint_dir"], killed_folder)  # the same run continued
    assert int(tf.train.load_checkpoint(bert["checkpoint_dir"]).get_tensor(ITERATIONS)) == 60
    assert tf.train.latest_checkpoint(bert["checkpoint_dir"]).endswith("ckpt-60")
    for phase, steps in (("bert-128", 60), ("electra-128", 20)):
        export = manifest["report"][phase]["export"]
        assert set(os.listdir(export)) >= {
            "checkpoint",
            "config.json",
            "saved_model",
            "training.json",
            "vocab.txt",
            "google",
            "hf",
            "tokenizer_settings.json",
        }
        with open(os.path.join(export, "config.json"), encoding="utf-8") as f:
            config_json = json.load(f)
        assert config_json["model_type"] == phase.split("-")[0] and config_json["step"] == steps
        # The pushed copy is complete: its SavedModel loads (TFX's Pusher alone drops the nested .pb).
        assert "serving_default" in tf.saved_model.load(os.path.join(export, "saved_model")).signatures
    assert "train        done" in run_cli(config, "status").stdout
    logs = [trained]

    # 3. Forced rerun with nothing changed: TFX's cache serves every node, no new export.
    exports = sorted(os.listdir(root / "train" / "export" / "bert-128"))
    again = run_cli(config, "train", "--force")
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(os.listdir(root / "train" / "export" / "bert-128")) == exports

    # 4. Fine-tune the exported BERT on the demo's CPC sentences.
    tuned = run_cli(config, "finetune", timeout=900)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    report = json.loads((root / "finetune" / "bert" / "report.json").read_text())
    assert report["export"] == bert["export"]
    assert report["labels"] == list("ABCDEFGH")
    assert report["train_loss_per_epoch"][-1] < report["train_loss_per_epoch"][0]
    # Patent sentences carry their section's vocabulary: well above the majority class.
    assert report["test_accuracy"] > report["majority_baseline"] + 0.15
    assert "test accuracy" in tuned.stdout

    # 5. The three downstream tasks on the same export.
    for task in ("ner", "cls", "qa"):
        done = run_cli(config, "evaluate", "--task", task, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"[evaluate {task}]" in done.stdout
        logs.append(done)
    results = json.loads((root / "evaluate" / "results.json").read_text())
    assert results["columns"] == ["model", "vocab_size", "ner_f1", "cpc_accuracy", "qa_exact_match", "qa_f1"]
    [row] = results["rows"]
    assert row["model"] == "/".join(bert["export"].split(os.sep)[-2:])
    assert row["vocab_size"] == len((root / "vocab" / "bert" / "vocab.txt").read_text().splitlines())
    # Margins well inside what the demo model reaches (NER F1 ~0.2, CPC ~0.46 against a
    # majority of 0.13, QA EM ~20).
    assert row["ner_baseline"] == 0.0 and row["ner_f1"] >= 0.1
    assert row["cpc_accuracy"] >= row["cpc_baseline"] + 0.25
    assert row["qa_exact_match"] >= row["qa_baseline_exact_match"] + 5.0
    assert row["qa_f1"] >= row["qa_baseline_f1"] + 5.0

    # 6. The run report: every section filled, the fine-tune's too.
    page_run = run_cli(config, "report", timeout=600)
    assert page_run.returncode == 0, page_run.stderr[-3000:]
    page = (root / "report" / "index.html").read_text(encoding="utf-8")
    assert "Downstream evaluation" in page and row["model"] in page
    assert re.findall(r'<p class="missing">([^<]*)</p>', page) == []

    # The TensorFlow steps' logs as a user sees them: no library noise (TF, absl, CUDA, TFX).
    for done in [*logs, page_run]:
        assert library_noise(done.stdout + done.stderr) == [], done.args

    # The demo's report draws offline in a real browser.
    if chromium_command() is not None:
        dom = render_offline(str(root / "report" / "index.html"), tmp_path / "report.png")
        assert "Downstream evaluation" in dom and "<svg" in dom
        assert external_references(dom) == []
