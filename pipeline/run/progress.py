"""Live progress of a running stage on the launching terminal.

In:  what the stage's workers record (`filesystems.Progress`: one small JSON
     file per worker process under a folder the runner names in
     PROGRESS_DIR_ENV) and what is known before the job starts (the total:
     input files for ingest, upstream manifests' counters for later stages).
Out: on a terminal, one tqdm bar per stage (done/total, rate, ETA) with the
     central steps' start and end lines above it; otherwise (CI, a log file) a
     plain line every `every_s` seconds and a last line when the stage ends.
     On Dataflow, the job's URL and its state changes instead (`wait_for_job`).

Progress never fails a stage: an unreadable file or a missing counter only
means a line without a total.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from tqdm import tqdm

from pipeline.config import PipelineConfig
from pipeline.io.filesystems import PROGRESS_DIR_ENV, scratch_folder

# ------------------------------------------------------------------ totals


def _counter(manifest: Callable[[str], dict | None], stage: str, name: str) -> int:
    return int(((manifest(stage) or {}).get("counters") or {})[name])


def _ingest_total(config: PipelineConfig, manifest, inputs: Callable[[], list[dict]]) -> int:
    """Work items of ingest's shard tasks: one per file, one per byte range of a big JSONL file."""
    from pipeline.stages import ingest

    split_bytes = config.ingest.split_mb * 1024 * 1024
    return sum(
        len(list(ingest.file_entries(f["path"], f["size"], f["format"], 1, split_bytes))) for f in inputs()
    )


def _clean_total(config: PipelineConfig, manifest, inputs) -> int:
    return _counter(manifest, "ingest", "publications_written")


def _sentences_total(config: PipelineConfig, manifest, inputs) -> int:
    return _counter(manifest, "clean", "sentences_written")


def _tfrecords_total(config: PipelineConfig, manifest, inputs) -> int:
    # every output reads every morph sentence
    return _counter(manifest, "morph", "sentences") * len(config.tfrecords.outputs)


def _train_total(config: PipelineConfig, manifest, inputs) -> int:
    return sum(phase.steps for phase in config.train.phases)


# stage -> (the noun its workers count, its total as known before the job runs)
TOTALS: dict[str, tuple[str, Callable[..., int]]] = {
    "ingest": ("files", _ingest_total),
    "clean": ("documents", _clean_total),
    "nouns": ("sentences", _sentences_total),
    "morph": ("sentences", _sentences_total),
    "tfrecords": ("sentences", _tfrecords_total),
    "train": ("steps", _train_total),
}


def expected_work(
    config: PipelineConfig,
    stage: str,
    manifest: Callable[[str], dict | None],
    inputs: Callable[[], list[dict]],
) -> tuple[str | None, int | None]:
    """(noun, total) for `stage`; total None when it cannot be known, (None, None) for a
    stage that counts nothing. `manifest(name)` reads a stage's manifest, `inputs()`
    lists the input files (runner.input_files)."""
    if stage not in TOTALS:
        return None, None
    noun, total = TOTALS[stage]
    try:
        return noun, int(total(config, manifest, inputs))
    except Exception:  # an old manifest without the counter, an unreadable input...
        return noun, None


# ------------------------------------------------------------------ reading workers' files


def read_folder(folder: str) -> tuple[dict[str, dict[str, int]], list[dict]]:
    """The workers' files summed: ({stage: {noun: count}}, [step records, oldest first])."""
    counts: dict[str, dict[str, int]] = {}
    steps: list[dict] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return counts, steps
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                data = json.load(f)
            for stage, nouns in data.get("counts", {}).items():
                bucket = counts.setdefault(stage, {})
                for noun, n in nouns.items():
                    bucket[noun] = bucket.get(noun, 0) + int(n)
            steps += list(data.get("steps", {}).values())
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # a worker's file being replaced, or not ours
    return counts, sorted(steps, key=lambda s: s.get("started", 0))


# ------------------------------------------------------------------ rendering


def plain_line(
    stage: str,
    noun: str,
    done: int,
    total: int | None,
    elapsed: float,
    final: bool = False,
    rate: float | None = None,
) -> str:
    """`[clean] 1,234/5,000 documents (25%), 410.2 documents/s, 00:03 elapsed, ETA 00:09`;
    the last line: `[clean] 5,000/5,000 documents (100%) in 12.1 s, 413.2 documents/s`.
    `rate` (units/s; by default done / elapsed) gives the ETA."""
    if rate is None or final:
        rate = done / elapsed if elapsed > 0 else 0.0
    count = f"{done:,}/{total:,} {noun} ({100 * done / total:.0f}%)" if total else f"{done:,} {noun}"
    if final:
        return f"[{stage}] {count} in {elapsed:.1f} s, {rate:,.1f} {noun}/s"
    line = f"[{stage}] {count}, {rate:,.1f} {noun}/s, {tqdm.format_interval(elapsed)} elapsed"
    if total and rate > 0 and done < total:
        line += f", ETA {tqdm.format_interval((total - done) / rate)}"
    return line


def step_line(step: dict) -> str:
    if step.get("seconds") is None:
        return f"[{step['stage']}] {step['what']} ..."
    state = "failed after" if step.get("failed") else "done in"
    return f"[{step['stage']}] {step['what']}: {state} {step['seconds']:.1f} s"


class StageProgress:
    """Polls the workers' folder while a stage runs and shows its progress.

    `start()` creates the folder and names it in PROGRESS_DIR_ENV (for the
    stage's worker processes and the TFX child process), `finish(counters)`
    shows the last count when the job ends, `stop()` the steps left and
    removes the folder.
    """

    def __init__(
        self,
        stage: str,
        noun: str | None,
        total: int | None,
        stream: TextIO | None = None,
        every_s: float = 10.0,
        poll_s: float = 0.5,
        tty: bool | None = None,
        folder: str | None = None,
        live: bool = True,
    ) -> None:
        self.stage, self.noun, self.total = stage, noun, total
        self.stream = stream or sys.stderr
        self.every_s, self.poll_s = every_s, poll_s
        self.tty = _isatty(self.stream) if tty is None else tty
        self.folder = folder
        # live: counts are expected while the job runs (a bar at 0 from the start on a terminal)
        self.live = live
        self._own_folder = folder is None
        self._done = self._last_done = 0
        self._first: tuple[float, int] | None = None  # (time, count) when counts first appeared
        self._shown_steps: dict[str, Any] = {}
        self._bar: tqdm | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._finished = False
        self._thread: threading.Thread | None = None
        self._previous_env: str | None = None
        self._started = self._last_line = time.monotonic()

    # -------------------------------------------------------------- lifecycle

    def start(self) -> StageProgress:
        if self.folder is None:  # inside the stage run's scratch folder (runner.scratch_dir)
            self.folder = scratch_folder("pipeline-progress-")
        self._previous_env = os.environ.get(PROGRESS_DIR_ENV)
        os.environ[PROGRESS_DIR_ENV] = self.folder
        self._started = self._last_line = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=f"progress-{self.stage}", daemon=True)
        self._thread.start()
        return self

    def finish(self, counters: Mapping[str, int]) -> None:
        """The job ended: its last count line (the Beam counter `progress_<noun>`
        is exact where the workers' last write may lag). Central steps after the
        job (a stage's finalize) are still shown until `stop`."""
        with self._lock:
            try:
                self.poll()
                if self.noun and f"progress_{self.noun}" in counters:
                    self._done = max(self._done, int(counters[f"progress_{self.noun}"]))
                if self._done:
                    self._render(final=True)
                self._close_bar()
            except Exception:  # progress never fails a stage
                pass
            self._finished = True

    def stop(self) -> None:
        """Show what is left (steps; a bar when `finish` was not called) and clean up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self._lock:
                self.poll()
                self._close_bar()
        except Exception:  # progress never fails a stage
            pass
        finally:
            if self._previous_env is None:
                os.environ.pop(PROGRESS_DIR_ENV, None)
            else:
                os.environ[PROGRESS_DIR_ENV] = self._previous_env
            if self._own_folder and self.folder:
                shutil.rmtree(self.folder, ignore_errors=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                with self._lock:
                    self.poll()
                    if not self._finished:
                        self._render()
            except Exception:  # progress never fails a stage
                pass

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # -------------------------------------------------------------- polling and drawing

    def poll(self) -> None:
        """Read the workers' files: print new step lines, update the count."""
        counts, steps = read_folder(self.folder or "")
        for step in steps:
            key, seconds = f"{step.get('stage')}\t{step.get('what')}", step.get("seconds")
            # a step's start line once, then its end line once
            if key not in self._shown_steps or (self._shown_steps[key] is None and seconds is not None):
                self._shown_steps[key] = seconds
                self._write(step_line(step))
        nouns = counts.get(self.stage, {})
        if self.noun is None and nouns:
            self.noun = max(nouns, key=nouns.get)  # a stage not in TOTALS: what its workers count
        if self.noun and not self._finished:
            self._done = max(self._done, nouns.get(self.noun, 0))

    def _render(self, final: bool = False) -> None:
        if not self.noun:
            return
        if self.tty:
            if self._bar is None:
                if not self._done and (self.total is None or not self.live):
                    return
                self._open_bar()  # from the first poll on: after the stage's `running` line
            self._bar.update(self._done - self._bar.n)
            return
        now = time.monotonic()
        if self._done and self._first is None:
            self._first = (now, self._done)
        changed = self._done != self._last_done
        if final or (changed and now - self._last_line >= self.every_s):
            self._last_line, self._last_done = now, self._done
            rate = None  # since the first count: a job's start-up says nothing of its pace
            if self._first and now > self._first[0] and self._done > self._first[1]:
                rate = (self._done - self._first[1]) / (now - self._first[0])
            elapsed = now - self._started
            line = plain_line(self.stage, self.noun, self._done, self.total, elapsed, final, rate)
            print(line, file=self.stream, flush=True)

    def _open_bar(self) -> None:
        self._bar = tqdm(
            total=self.total,
            desc=f"[{self.stage}]",
            unit=f" {self.noun}",
            file=self.stream,
            dynamic_ncols=True,
            mininterval=self.poll_s,
            smoothing=0.1,  # counts arrive in bursts (a shard at a time)
            leave=True,
        )
        # the bar's clock starts with the stage, not with its first count
        self._bar.start_t = self._bar.last_print_t = time.time() - (time.monotonic() - self._started)

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def track(
    config: PipelineConfig,
    stage: str,
    manifest: Callable[[str], dict | None],
    inputs: Callable[[], list[dict]],
) -> Iterator[StageProgress | None]:
    """Shows `stage`'s progress while the block runs. Yields the display (None when
    there is none); call its `finish(counters)` when the job ends. Dataflow's workers
    write no files: the job's states show instead (wait_for_job), then the last count."""
    display = None
    with contextlib.suppress(Exception):
        noun, total = expected_work(config, stage, manifest, inputs)
        live = config.runner.runner != "DataflowRunner"
        display = StageProgress(stage, noun, total, live=live).start()
    try:
        yield display
    finally:
        if display is not None:
            display.stop()


# ------------------------------------------------------------------ Dataflow


def job_url(result) -> str:
    job = result._job  # the Dataflow API's Job: id, projectId, location
    return f"https://console.cloud.google.com/dataflow/jobs/{job.location}/{job.id}?project={job.projectId}"


def wait_for_job(result, stage: str, stream: TextIO | None = None, poll_s: float = 30.0) -> None:
    """result.wait_until_finish(); for a Dataflow job, its URL first and each new state."""
    if type(result).__name__ != "DataflowPipelineResult" or not getattr(result, "_job", None):
        result.wait_until_finish()
        return
    stream = stream or sys.stderr
    with contextlib.suppress(Exception):
        print(f"[{stage}] Dataflow job {result.job_id()}: {job_url(result)}", file=stream, flush=True)
    shown = None
    started = time.monotonic()
    while True:
        state = result.wait_until_finish(duration=int(poll_s * 1000))  # raises if the job failed
        if state != shown:
            shown = state
            elapsed = tqdm.format_interval(time.monotonic() - started)
            print(f"[{stage}] Dataflow job state: {_state_name(state)} ({elapsed})", file=stream, flush=True)
        if result.is_in_terminal_state():
            return


def _state_name(state) -> str:
    return str(getattr(state, "name", state)).rsplit(".", 1)[-1]
