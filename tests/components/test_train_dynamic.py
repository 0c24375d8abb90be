"""A tiny training run on dynamic-masking records, through benchmarks/bench_gpu_train.py on CPU:
the trainer's input pipeline masks whole words per batch, its training step (XLA-compiled, two
replicas) learns from them, and the GPU benchmark is known to work before a GPU is lent."""

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stages.test_tfrecords import CONFIG, run_records

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_bench_gpu_train_trains_tiny_bert_on_dynamic_records_on_cpu(tmp_path):
    config = dataclasses.replace(CONFIG, outputs=("bert-128",), masking="dynamic")
    vocabs = run_records(tmp_path, tmp_path / "root" / "tfrecords", "in_memory", 1, config=config)
    os.makedirs(tmp_path / "root" / "vocab" / "bert")
    shutil.copy(vocabs["bert"], tmp_path / "root" / "vocab" / "bert" / "vocab.txt")
    command = [sys.executable, os.path.join(REPO, "benchmarks", "bench_gpu_train.py"), str(tmp_path / "root")]
    command += ["--models", "bert", "--seq", "128,512", "--size", "tiny", "--batch-per-gpu", "4"]
    command += ["--steps", "6", "--warmup-steps", "2", "--mixed", "off", "--xla", "on"]
    command += ["--masking", "dynamic", "--shuffle-buffer", "50", "--cpu-replicas", "2"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "skip bert-512: no records" in done.stdout
    assert "reference: NVIDIA TF2 BERT-Large phase 1" in done.stdout
    (result,) = json.loads(done.stdout.splitlines()[-1][len("RESULT ") :])
    assert (result["model"], result["seq"], result["masking"]) == ("bert", 128, "dynamic")
    assert result["replicas"] == 2 and result["global_batch"] == 8 and result["xla"]
    assert result["seq_per_s"] > 0 and result["input_seq_per_s"] > 0
    # Untrained MLM over a vocab of V ids starts near ln(V), NSP near ln(2): a finite loss in that range.
    vocab_size = len(Path(vocabs["bert"]).read_text(encoding="utf-8").splitlines())
    assert 0.5 * math.log(vocab_size) < result["loss"] < 3 * math.log(vocab_size) + 2
