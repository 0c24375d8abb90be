"""Live progress: workers' count files, their sum, the lines and bars the launcher draws,
the totals known before a job, Dataflow's URL and states, and one CLI run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
import types

from pipeline.io.filesystems import PROGRESS_DIR_ENV, Progress
from pipeline.run import progress
from tests.helpers import run_cli, write_config


def _worker_file(folder, pid, counts, steps=None):
    (folder / f"{pid}.json").write_text(
        json.dumps({"counts": counts, "steps": steps or {}}), encoding="utf-8"
    )


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_read_folder_sums_the_workers_files_and_skips_broken_ones(tmp_path):
    _worker_file(tmp_path, 1, {"clean": {"documents": 20}})
    step = {"stage": "nouns", "what": "scoring nouns", "started": 5.0, "seconds": None}
    _worker_file(tmp_path, 2, {"clean": {"documents": 5}, "nouns": {"sentences": 7}}, {"k": step})
    (tmp_path / "3.json").write_text('{"counts": {"clean": {"docu', encoding="utf-8")  # half written
    (tmp_path / "4.json.tmp").write_text("{}", encoding="utf-8")
    counts, steps = progress.read_folder(str(tmp_path))
    assert counts == {"clean": {"documents": 25}, "nouns": {"sentences": 7}}
    assert steps == [step]
    assert progress.read_folder(str(tmp_path / "gone")) == ({}, [])


def test_plain_lines_show_done_total_rate_and_eta():
    line = progress.plain_line("clean", "documents", 1234, 5000, 3.0)
    assert line == "[clean] 1,234/5,000 documents (25%), 411.3 documents/s, 00:03 elapsed, ETA 00:09"
    assert progress.plain_line("nouns", "sentences", 10, None, 2.0) == (
        "[nouns] 10 sentences, 5.0 sentences/s, 00:02 elapsed"
    )
    final = progress.plain_line("clean", "documents", 5000, 5000, 12.5, final=True)
    assert final == "[clean] 5,000/5,000 documents (100%) in 12.5 s, 400.0 documents/s"


def test_step_lines_say_start_end_and_failure():
    step = {"stage": "vocab", "what": "training SentencePiece", "started": 1.0, "seconds": None}
    assert progress.step_line(step) == "[vocab] training SentencePiece ..."
    assert progress.step_line({**step, "seconds": 3.04}) == "[vocab] training SentencePiece: done in 3.0 s"
    failed = {**step, "seconds": 1.5, "failed": True}
    assert progress.step_line(failed) == "[vocab] training SentencePiece: failed after 1.5 s"


def test_off_a_terminal_the_display_prints_lines_steps_and_the_exact_last_count(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    display = progress.StageProgress("clean", "documents", 50, stream=stream, every_s=0, poll_s=0.02)
    display.start()
    folder = display.folder
    assert os.environ[PROGRESS_DIR_ENV] == folder
    _worker_file(tmp_path, 0, {})  # not in the display's folder: ignored
    with open(os.path.join(folder, "11.json"), "w", encoding="utf-8") as f:
        json.dump({"counts": {"clean": {"documents": 12}}}, f)
    with open(os.path.join(folder, "12.json"), "w", encoding="utf-8") as f:
        step = {"stage": "clean", "what": "merging", "started": 1.0, "seconds": 2.25}
        json.dump({"counts": {"clean": {"documents": 8}}, "steps": {"s": step}}, f)
    assert _wait_for(lambda: "[clean] 20/50 documents (40%)" in stream.getvalue())
    time.sleep(0.2)  # polls that see the same count print nothing new
    assert stream.getvalue().count("[clean] 20/50 documents") == 1
    display.finish({"progress_documents": 50, "documents_written": 49})  # the workers' last write lagged
    display.stop()
    out = stream.getvalue()
    assert out.count("[clean] merging: done in 2.2 s") == 1
    assert re.search(r"^\[clean\] 20/50 documents \(40%\), [\d.,]+ documents/s, .* ETA ", out, re.M)
    assert re.search(r"^\[clean\] 50/50 documents \(100%\) in [\d.]+ s, ", out, re.M), out
    assert PROGRESS_DIR_ENV not in os.environ and not os.path.exists(folder)


def test_on_a_terminal_the_display_draws_a_tqdm_bar(tmp_path):
    stream = io.StringIO()
    display = progress.StageProgress(
        "morph", "sentences", 40, stream=stream, poll_s=0.02, tty=True, folder=str(tmp_path)
    )
    display.start()
    _worker_file(tmp_path, 1, {"morph": {"sentences": 10}})
    assert _wait_for(lambda: "10/40" in stream.getvalue())
    display.finish({"progress_sentences": 40})
    display.stop()
    out = stream.getvalue()
    assert "[morph]" in out and "40/40" in out and "sentences/s" in out
    assert os.path.isdir(tmp_path)  # a folder it was given stays


def test_workers_record_counts_and_steps_in_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(PROGRESS_DIR_ENV, str(tmp_path))
    counter = Progress("tfrecords", "sentences")
    counter.tick(3)
    counter.tick(4)
    with Progress.step("vocab", "training SentencePiece"):
        pass
    with contextlib.suppress(ValueError), Progress.step("vocab", "learning WordPiece"):
        raise ValueError("boom")
    assert _wait_for(lambda: progress.read_folder(str(tmp_path))[0] == {"tfrecords": {"sentences": 7}})
    steps = progress.read_folder(str(tmp_path))[1]
    assert [(s["what"], s["seconds"] is not None, s["failed"]) for s in steps] == [
        ("training SentencePiece", True, False),
        ("learning WordPiece", True, True),
    ]
    # a vanished folder (the stage ended) never fails the worker
    monkeypatch.setenv(PROGRESS_DIR_ENV, str(tmp_path / "gone"))
    counter.tick()
    with Progress.step("vocab", "learning WordPiece"):
        pass


def test_totals_come_from_the_inputs_and_the_upstream_manifests():
    phases = (types.SimpleNamespace(steps=60), types.SimpleNamespace(steps=40))
    config = types.SimpleNamespace(
        ingest=types.SimpleNamespace(split_mb=1),
        tfrecords=types.SimpleNamespace(outputs=("bert-128", "electra-128")),
        train=types.SimpleNamespace(phases=phases),
    )
    manifests = {
        "ingest": {"counters": {"publications_written": 50}},
        "clean": {"counters": {"sentences_written": 2805}},
        "morph": {"counters": {"sentences": 2805}},
    }
    files = [
        {"path": "/in/a.xml", "size": 10, "format": "kipo_xml"},
        {"path": "/in/big.jsonl", "size": 5 * 1024 * 1024, "format": "jsonl"},  # 5 byte ranges
    ]

    def work(stage):
        return progress.expected_work(config, stage, manifests.get, lambda: files)

    assert work("ingest") == ("files", 6)
    assert work("clean") == ("documents", 50)
    assert work("nouns") == work("morph") == ("sentences", 2805)
    assert work("tfrecords") == ("sentences", 5610)
    assert work("train") == ("steps", 100)
    assert work("vocab") == (None, None)
    del manifests["morph"]
    assert work("tfrecords") == ("sentences", None)  # no total, still a count


def test_a_dataflow_job_shows_its_url_and_state_changes():
    class DataflowPipelineResult:  # the name Beam's Dataflow result has
        _job = types.SimpleNamespace(id="2026-12-07_01", location="asia-northeast3", projectId="korpat")

        def __init__(self):
            self.states = ["PipelineState.PENDING", "PipelineState.RUNNING", "PipelineState.RUNNING"]

        def job_id(self):
            return self._job.id

        def wait_until_finish(self, duration=None):
            return self.states.pop(0) if self.states else "PipelineState.DONE"

        def is_in_terminal_state(self):
            return not self.states

    stream = io.StringIO()
    progress.wait_for_job(DataflowPipelineResult(), "clean", stream=stream, poll_s=0)
    lines = [re.sub(r" \(\d\d:\d\d\)$", "", line) for line in stream.getvalue().splitlines()]
    assert lines == [
        "[clean] Dataflow job 2026-12-07_01: https://console.cloud.google.com/dataflow/jobs/"
        "asia-northeast3/2026-12-07_01?project=korpat",
        "[clean] Dataflow job state: PENDING",
        "[clean] Dataflow job state: RUNNING",
    ]


def test_run_prints_done_over_total_for_each_stage(tmp_path, tiny_inputs):
    texts = ["합성세제액에 관한 것이다.", "세탁 장치의 구조를 개시한다.", "전지의 양극 활물질이다."]
    lines = [
        json.dumps({"id": f"KR{i}", "title": "발명", "abstract": f"본 발명은 {t}"}, ensure_ascii=False)
        for i, t in enumerate(texts)
    ]
    (tmp_path / "in" / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run_cli(write_config(tmp_path, tiny_inputs), "run", "--to", "clean", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    err = done.stderr
    assert re.search(r"^\[ingest\] 1/1 files \(100%\) in [\d.]+ s, ", err, re.M), err
    assert re.search(r"^\[clean\] 3/3 documents \(100%\) in [\d.]+ s, ", err, re.M), err
    assert "on worker" not in err  # no per-worker counts any more
