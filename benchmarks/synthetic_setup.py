"""Shared set-up for the benchmarks: a synthetic corpus and a pipeline.yaml that reads it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import yaml

from pipeline.io.memory import PeakMemory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _absolute_repo_paths(value):
    # The config moves out of the repo: word lists named relative to it must follow.
    if isinstance(value, dict):
        return {k: _absolute_repo_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_repo_paths(v) for v in value]
    if isinstance(value, str) and value and not os.path.isabs(value) and "://" not in value:
        candidate = os.path.join(REPO, value)
        if os.path.isfile(candidate):
            return candidate
    return value


def timed_cli(args: list[str], what: str) -> tuple[float, PeakMemory]:
    """`python -m pipeline ARGS` from the repo: (wall seconds, peak memory of it and its
    children); exits naming `what` when it fails."""
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    memory = PeakMemory(proc.pid, children=True, every_s=0.2).start()
    _, err = proc.communicate()
    memory.stop()
    if proc.returncode != 0:
        sys.exit(f"{what} failed:\n{err[-3000:]}")
    return time.time() - started, memory


def prepare(work: str, docs: int, suffix: str = "") -> tuple[str, int, str]:
    """Generate `docs` publications under `work` (reused if present) and write a config.

    Returns (corpus folder, its size in bytes, config path). Output goes to
    `work/out{suffix}`; the repo's pipeline.yaml supplies every other setting.
    """
    corpus = os.path.join(work, f"corpus{suffix}")
    if not os.path.exists(corpus):
        subprocess.run(
            [sys.executable, "-m", "pipeline", "generate-corpus", "--docs", str(docs), "--out", corpus],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    with open(os.path.join(REPO, "pipeline.yaml"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data.pop("profiles", None)
    data = _absolute_repo_paths(data)
    data["output_root"] = os.path.join(work, f"out{suffix}")
    # Documents per bucket held constant (125, the demo config's ratio at 1k),
    # as a user sizes buckets for a corpus (4096 for KorPatBERT's): a bucket is
    # what one tfrecords task holds.
    data["tfrecords"]["num_buckets"] = max(8, docs // 125)
    data["inputs"] = [
        {"glob": os.path.join(corpus, "kipo_xml", "*.xml"), "format": "kipo_xml"},
        {"glob": os.path.join(corpus, "jsonl", "*.jsonl"), "format": "jsonl"},
    ]
    config = os.path.join(work, f"pipeline{suffix}.yaml")
    with open(config, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, allow_unicode=True)
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(corpus) for n in names)
    return corpus, size, config
