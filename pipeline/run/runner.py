"""Run stages as Beam jobs, skip the ones that are up to date, and record manifests.

Each stage writes under `<output_root>/<stage>/`. The last file a stage writes
is `manifest.json` (config, fingerprints, counters, timings, library versions):
a folder without it is an unfinished run, whatever else it holds, and later
stages refuse to read it.

A stage's fingerprint hashes its config section, its rule versions and the
fingerprints of what it reads (input file names, sizes and modification times
for `ingest`; the upstream stages' fingerprints otherwise). So a changed setting
makes that stage and everything downstream stale, and nothing upstream.

Reliability (why the order of things below matters):
- Nothing is deleted before the new output is complete. `preflight` checks
  Beam's flags, every file a stage reads and the upstream outputs first; the
  stage then writes into `<output_root>/.staging/<stage>/`, and only once its
  manifest is written there is it swapped in for the old folder (one rename
  locally). A failed or refused rerun leaves the previous output and manifest.
  (`train` keeps its folder, see `Stage.keep_output`.) A rerun needs room for
  the old and the new output of one stage at once.
- Each manifest lists the files the stage wrote (size, mtime, CRC-32) and a
  token of each upstream manifest it read. A stage is stale when an upstream
  was rerun since, or when one of its own or its upstreams' files is missing,
  has another size, or (checked only when its mtime moved) another checksum:
  `status` stays a listing per stage, hashing only files that were touched.
  `stage`/`run` refuse (exit 2) to read an upstream that is not `done`, unless
  the same command reruns it first.

Several stages can also run as one Beam job (`runner.jobs: fused`,
`pipeline/run/fused_jobs.py`), finished afterwards with the same steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import DATAFLOW_FLAGS, PipelineConfig, output_settings, resolve_path, section_dict
from pipeline.io import filesystems
from pipeline.layout import MANIFEST, stage_dir
from pipeline.run import progress
from pipeline.run.registry import stage_table
from pipeline.run.stage import Stage, StageContext

log = logging.getLogger(__name__)

LIBRARIES = (
    "apache-beam",
    "pyarrow",
    "defusedxml",
    "tensorflow",
    "tensorflow-text",
    "tensorflow-data-validation",
    "tfx",
    "tf-models-official",
    "python-mecab-ko",
    "soynlp",
    "sentencepiece",
)


# ------------------------------------------------------------------ fingerprints


def _digest(obj: Any) -> str:
    data = json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def input_files(config: PipelineConfig) -> list[dict[str, Any]]:
    """Every input file with its size and modification time, sorted."""
    files = []
    for spec in config.inputs:
        pattern = resolve_path(config, spec.glob)
        for m in FileSystems.match([pattern])[0].metadata_list:
            files.append(
                {
                    "path": m.path,
                    "format": spec.format,
                    "size": m.size_in_bytes,
                    "mtime": int(m.last_updated_in_seconds or 0),
                }
            )
    return sorted(files, key=lambda f: f["path"])


def file_stats(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Name, size and modification time of each path (missing ones marked so)."""
    stats = []
    for path in paths:
        matches = FileSystems.match([filesystems.literal(path)])[0].metadata_list
        if not matches:
            stats.append({"path": path, "missing": True})
        for m in matches:
            stats.append(
                {"path": m.path, "size": m.size_in_bytes, "mtime": int(m.last_updated_in_seconds or 0)}
            )
    return stats


def stage_config(config: PipelineConfig, name: str) -> dict[str, Any]:
    """The stage's whole config section, as the manifest records it."""
    return section_dict(getattr(config, name)) if hasattr(config, name) else {}


def fingerprinted_config(config: PipelineConfig, name: str) -> dict[str, Any]:
    """The part of the stage's section that changes its output (machine settings left out)."""
    return output_settings(getattr(config, name)) if hasattr(config, name) else {}


def expected_fingerprints(config: PipelineConfig, stages: Mapping[str, Stage]) -> dict[str, dict]:
    """For every stage, the fingerprint it would have if run now with this config."""
    result: dict[str, dict] = {}
    files_digest = _digest(input_files(config))
    for name, stage in stages.items():
        config_fp = _digest({"config": fingerprinted_config(config, name), "versions": stage.versions})
        if stage.upstream:
            inputs = {up: result[up]["fingerprint"] for up in stage.upstream}
        else:
            inputs = {"files": files_digest}
        if stage.files:
            inputs["extra_files"] = _digest(file_stats(stage.files(config)))
        result[name] = {
            "config_fingerprint": config_fp,
            "input_fingerprints": inputs,
            "fingerprint": _digest({"stage": name, "config": config_fp, "inputs": inputs}),
        }
    return result


# Where a stage writes until its output is complete (under the output root).
STAGING = ".staging"


class RunRefused(RuntimeError):
    """A check before a stage writes anything failed: one line for the user, exit 2."""


def output_root(config: PipelineConfig) -> str:
    return resolve_path(config, config.output_root)


def staging_dir(config: PipelineConfig, name: str) -> str:
    return FileSystems.join(output_root(config), STAGING, name)


def load_manifest(folder: str) -> tuple[dict | None, str]:
    """(manifest, "") or (None, what is wrong with it); (None, "") when there is none."""
    path = FileSystems.join(folder, MANIFEST)
    if not FileSystems.exists(path):
        return None, ""
    try:
        manifest = filesystems.read_json(path)
    except (OSError, ValueError) as e:  # truncated, not UTF-8, not JSON, unreadable
        return None, f"{MANIFEST} is unreadable ({type(e).__name__})"
    if not isinstance(manifest, dict) or "fingerprint" not in manifest:
        return None, f"{MANIFEST} is not a manifest"
    return manifest, ""


def read_manifest(config: PipelineConfig, name: str) -> dict | None:
    """The stage's manifest; None when it has none or it is damaged (with a warning)."""
    manifest, problem = load_manifest(stage_dir(config, name))
    if problem:
        log.warning("%s: %s; the stage counts as incomplete", name, problem)
    return manifest


# ------------------------------------------------------------------ integrity


def file_records(folder: str) -> dict[str, dict[str, Any]]:
    """Every file under `folder` but the manifest: relative path -> size, mtime, crc32.

    Hashed after writing (Beam's writers give no hook to hash while writing).
    """
    records = {}
    for rel, (size, mtime) in sorted(filesystems.tree_listing(folder).items()):
        if rel != MANIFEST:
            crc = filesystems.file_checksum(FileSystems.join(folder, rel))
            records[rel] = {"size": size, "mtime": mtime, "crc32": crc}
    return records


def file_problem(folder: str, label: str, manifest: Mapping[str, Any], rehash: bool = False) -> str:
    """What is wrong with the files under `folder` ("" when they are the ones the
    manifest lists): "missing: <label>/<file>", "changed: ..." or "unexpected: ...". Files whose size and
    mtime match are not re-read unless `rehash`. Manifests without a file list
    (older ones, train's) are not checked."""
    recorded = manifest.get("files")
    if recorded is None:
        return ""
    listing = filesystems.tree_listing(folder)
    listing.pop(MANIFEST, None)
    for rel, record in sorted(recorded.items()):
        now = listing.get(rel)
        if now is None:
            return f"missing: {label}/{rel}"
        if now[0] != record["size"]:
            return f"changed: {label}/{rel} ({record['size']:,} bytes when written, now {now[0]:,})"
        touched = rehash or now[1] != record["mtime"]
        if touched and filesystems.file_checksum(FileSystems.join(folder, rel)) != record["crc32"]:
            return f"changed: {label}/{rel}"
    extra = sorted(set(listing) - set(recorded))
    return f"unexpected: {label}/{extra[0]}" if extra else ""


def manifest_token(manifest: Mapping[str, Any]) -> str:
    """What a downstream stage records of an upstream manifest it read: its
    fingerprint and file contents (not mtimes, which a copy changes)."""
    files = {rel: [r["size"], r["crc32"]] for rel, r in (manifest.get("files") or {}).items()}
    return _digest({"fingerprint": manifest.get("fingerprint"), "files": files})


@dataclasses.dataclass(frozen=True)
class StageStatus:
    name: str
    state: str  # done | stale | incomplete | missing
    detail: str = ""


class Survey:
    """The state of every stage's output, each manifest and folder read once."""

    def __init__(self, config: PipelineConfig, stages: Mapping[str, Stage], rehash: bool = False) -> None:
        self.config, self.stages, self.rehash = config, stages, rehash
        self.expected = expected_fingerprints(config, stages)
        self._manifests: dict[str, tuple[dict | None, str]] = {}
        self._files: dict[str, str] = {}
        self._status: dict[str, StageStatus] = {}

    def manifest(self, name: str) -> tuple[dict | None, str]:
        if name not in self._manifests:
            self._manifests[name] = load_manifest(stage_dir(self.config, name))
        return self._manifests[name]

    def file_problem(self, name: str) -> str:
        if name not in self._files:
            manifest = self.manifest(name)[0] or {}
            self._files[name] = file_problem(stage_dir(self.config, name), name, manifest, self.rehash)
        return self._files[name]

    def status(self, name: str) -> StageStatus:
        if name not in self._status:
            self._status[name] = self._assess(name)
        return self._status[name]

    def _assess(self, name: str) -> StageStatus:
        manifest, problem = self.manifest(name)
        if manifest is None:
            if problem:
                log.warning("%s: %s; the stage counts as incomplete", name, problem)
                return StageStatus(name, "incomplete", f"{problem}: rerun the stage")
            if filesystems.tree_exists(stage_dir(self.config, name)) or filesystems.tree_exists(
                staging_dir(self.config, name)
            ):
                return StageStatus(name, "incomplete", "output without manifest: an interrupted run")
            return StageStatus(name, "missing")
        want = self.expected[name]
        reasons = []
        if manifest.get("fingerprint") != want["fingerprint"]:
            if manifest.get("config_fingerprint") != want["config_fingerprint"]:
                reasons.append("config or rule version changed")
            if manifest.get("input_fingerprints") != want["input_fingerprints"]:
                reasons.append("inputs changed")
        recorded = manifest.get("upstream") or {}
        for up in self.stages[name].upstream:
            upstream = self.manifest(up)[0]
            if upstream is None:
                reasons.append(f"upstream {up} has no complete output")
                continue
            if up in recorded and recorded[up] != manifest_token(upstream):
                reasons.append(f"upstream {up} was rerun since")
            elif self.file_problem(up):
                reasons.append(f"upstream file {self.file_problem(up)}")
            elif not reasons and self.status(up).state != "done":
                reasons.append(f"upstream {up} is {self.status(up).state}")
        if self.file_problem(name):
            reasons.append(f"file {self.file_problem(name)}")
        if reasons:
            return StageStatus(name, "stale", "; ".join(reasons))
        return StageStatus(name, "done", f"finished {manifest.get('finished_at', '?')}")


def stage_status(
    config: PipelineConfig, stages: Mapping[str, Stage] | None = None, rehash: bool = False
) -> list[StageStatus]:
    survey = Survey(config, stages or stage_table(), rehash)
    return [survey.status(name) for name in survey.stages]


# ------------------------------------------------------------------ running


def beam_options(config: PipelineConfig, extra_args: Sequence[str] = ()) -> PipelineOptions:
    """Runner settings from pipeline.yaml, then command-line Beam flags (which win)."""
    r = config.runner
    args = [f"--runner={r.runner}"]
    if r.runner == "DirectRunner":
        args += [
            f"--direct_running_mode={r.direct_running_mode}",
            f"--direct_num_workers={r.direct_num_workers}",
        ]
    elif r.runner == "DataflowRunner":
        args += [f"--{key}={getattr(r, key)}" for key in DATAFLOW_FLAGS if getattr(r, key)]
    args += list(r.options) + list(extra_args)
    return PipelineOptions(args)


def stage_context(
    config: PipelineConfig, stage: Stage, offline: bool = False, output_dir: str | None = None
) -> StageContext:
    """offline: for building or compiling a job without reaching its data (see StageContext).
    output_dir: where the stage writes (its staging folder when run), by default its folder."""
    return StageContext(
        config=config,
        output_dir=output_dir or stage_dir(config, stage.name),
        upstream_dirs={up: stage_dir(config, up) for up in stage.upstream},
        offline=offline,
    )


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def job_counters(result, namespace: str) -> dict[str, int]:
    counters: dict[str, int] = {}
    for c in result.metrics().query()["counters"]:
        if c.key.metric.namespace != namespace:
            continue
        value = c.committed if c.committed is not None else c.attempted
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + int(value or 0)
    return dict(sorted(counters.items()))


# ------------------------------------------------------------------ checks before writing


def check_output_root(config: PipelineConfig) -> None:
    """The output root is a writable folder (created if needed), else RunRefused.
    (The config check already refused a root that is a file or under /proc.)"""
    root = output_root(config)
    if not filesystems.is_local(root):
        return  # object stores: the lock's write is the first write, and says why it fails
    try:
        os.makedirs(root, exist_ok=True)
        probe = os.path.join(root, f".write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as e:
        raise RunRefused(f"output_root: cannot write in {root}: {e.strerror or e}") from None


def parse_beam_options(config: PipelineConfig, extra_args: Sequence[str] = ()) -> PipelineOptions:
    """beam_options, parsed now: a bad flag is RunRefused naming it, before anything is written
    (Beam parses its flags lazily, deep inside a run, and exits the process on a bad one)."""
    options = beam_options(config, extra_args)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            options.get_all_options()
    except SystemExit:
        errors = re.findall(r"error: (.*)", captured.getvalue())
        raise RunRefused(f"Beam flags: {errors[-1] if errors else captured.getvalue().strip()}") from None
    return options


def check_stage_files(config: PipelineConfig, stage: Stage) -> None:
    """Every file the stage reads besides its upstreams (Stage.files) exists."""
    for path in stage.files(config) if stage.files else ():
        if not FileSystems.exists(path):
            raise RunRefused(f"stage {stage.name} reads {path}, which does not exist")
    if stage.check is not None:
        try:
            stage.check(config)
        except ValueError as e:
            raise RunRefused(f"stage {stage.name}: {e}") from None


def check_upstream(survey: Survey, stage: Stage) -> None:
    """Every upstream the stage reads is `done`: finished, current and undamaged."""
    for up in stage.upstream:
        manifest, problem = survey.manifest(up)
        if manifest is None:
            why = f" ({problem})" if problem else ""
            raise RunRefused(f"stage {stage.name} needs {up}, which has not finished{why}; run it first")
        status = survey.status(up)
        if status.state != "done":
            raise RunRefused(
                f"stage {stage.name} reads {up}, which is {status.state} ({status.detail}); rerun {up} first"
            )


def preflight(
    config: PipelineConfig, names: Sequence[str], stages: Mapping[str, Stage], extra_args: Sequence[str] = ()
) -> None:
    """Everything that can be checked before the first stage of a command writes:
    Beam flags, the stages' files, and the upstreams that this command does not rerun."""
    parse_beam_options(config, extra_args)
    survey = Survey(config, stages)
    for name in names:
        check_stage_files(config, stages[name])
        outside = [up for up in stages[name].upstream if up not in names]
        check_upstream(survey, dataclasses.replace(stages[name], upstream=tuple(outside)))


# ------------------------------------------------------------------ running


def run_stage(
    config: PipelineConfig,
    stage: Stage,
    stages: Mapping[str, Stage],
    extra_args: Sequence[str] = (),
    force: bool = False,
) -> dict | None:
    """Run one stage unless it is up to date; returns its manifest (None if skipped).

    Raises RunRefused (nothing written) when a check fails; the caller holds the
    output root's lock.
    """
    recover_swap(config, stage.name)
    survey = Survey(config, stages)
    expected = survey.expected[stage.name]
    if not force and survey.status(stage.name).state == "done":
        print(f"[{stage.name}] up to date, skipped (use --force to rerun)", file=sys.stderr)
        return None
    check_upstream(survey, stage)
    check_stage_files(config, stage)
    options = parse_beam_options(config, extra_args)
    upstream = {up: manifest_token(survey.manifest(up)[0]) for up in stage.upstream}

    out_dir = stage_dir(config, stage.name)
    if stage.keep_output:
        # train resumes from what it kept; only its manifest goes, so that from
        # here on the folder is "incomplete" until the new manifest lands.
        work_dir = out_dir
        manifest_path = FileSystems.join(out_dir, MANIFEST)
        if FileSystems.exists(manifest_path):
            FileSystems.delete([filesystems.literal(manifest_path)])
    else:
        work_dir = staging_dir(config, stage.name)
        filesystems.delete_tree(work_dir)  # what a killed attempt left
    try:
        manifests, inputs = (lambda name: survey.manifest(name)[0]), (lambda: input_files(config))
        with (
            scratch_space(config, stage.name),
            progress.track(config, stage.name, manifests, inputs) as display,
        ):
            fingerprints = {**expected, "upstream": upstream}
            manifest = _execute(config, stage, work_dir, options, extra_args, fingerprints, display)
        filesystems.write_json(FileSystems.join(work_dir, MANIFEST), manifest)
    except BaseException:
        if not stage.keep_output:  # the failed attempt's half output; the old one stays
            filesystems.delete_tree(work_dir)
            remove_if_empty(os.path.dirname(work_dir))
        raise
    if not stage.keep_output:
        swap_in(config, stage.name, work_dir, manifest)
    print_summary(stage.name, manifest["counters"], manifest["seconds"])
    return manifest


@contextlib.contextmanager
def scratch_space(config: PipelineConfig, name: str):
    """One local scratch folder per stage run (under `runner.scratch_dir`, or the system's
    temporary folder), named to the workers through the environment and removed when the
    stage ends, whether it succeeded or failed."""
    parent = config.runner.scratch_dir or None
    if parent:
        parent = resolve_path(config, parent)
        os.makedirs(parent, exist_ok=True)
    folder = tempfile.mkdtemp(prefix=f"korpat-{name}-", dir=parent)
    previous = os.environ.get(filesystems.SCRATCH_ENV)
    os.environ[filesystems.SCRATCH_ENV] = folder
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(filesystems.SCRATCH_ENV, None)
        else:
            os.environ[filesystems.SCRATCH_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)


def _execute(
    config: PipelineConfig,
    stage: Stage,
    work_dir: str,
    options: PipelineOptions,
    extra_args: Sequence[str],
    fingerprints: Mapping[str, Any],
    display: progress.StageProgress | None = None,
) -> dict:
    """Run the stage into `work_dir`; returns its manifest (not yet written).
    `display` (the stage's live progress) gets the counters when the job ends."""
    context = stage_context(config, stage, output_dir=work_dir)
    print(f"[{stage.name}] running: {stage.description}", file=sys.stderr)
    started = time.time()
    counters = {name: 0 for name in stage.accounting}
    if stage.execute is not None:
        counters.update(stage.execute(context, extra_args))
    else:
        p = beam.Pipeline(options=options)
        stage.build(p, context)
        result = p.run()
        progress.wait_for_job(result, stage.name)  # on Dataflow: the job's URL and states
        filesystems.delete_tree(FileSystems.join(work_dir, filesystems.TMP_DIR))
        counters.update(job_counters(result, stage.name))
    if display is not None:
        display.finish(counters)
    return stage_manifest(config, stage, context, options, fingerprints, counters, started, time.time())


def stage_manifest(
    config: PipelineConfig,
    stage: Stage,
    context: StageContext,
    options: PipelineOptions,
    fingerprints: Mapping[str, Any],
    counters: Mapping[str, int],
    started: float,
    finished: float,
) -> dict:
    """The stage's manifest once its job has ended: runs its finalize step (with
    `context`) and lists its files; not yet written."""
    counters = dict(sorted(counters.items()))
    manifest = {
        "stage": stage.name,
        **fingerprints,
        "config": stage_config(config, stage.name),
        "versions": dict(stage.versions),
        "counters": counters,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
        "seconds": round(finished - started, 2),
        "runner": options.get_all_options().get("runner") if stage.execute is None else "tfx-local",
        "libraries": library_versions(),
    }
    if stage.upstream == ():
        manifest["input_files"] = input_files(config)
    if stage.files:
        manifest["extra_files"] = file_stats(stage.files(config))
    if stage.finalize:
        manifest["report"] = stage.finalize(context)
    if not stage.keep_output:
        hashing = time.time()
        manifest["files"] = file_records(context.output_dir)
        manifest["checksum_seconds"] = round(time.time() - hashing, 3)
    return manifest


def remove_if_empty(folder: str) -> None:
    if filesystems.is_local(folder):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _old_dir(config: PipelineConfig, name: str) -> str:
    return FileSystems.join(output_root(config), STAGING, f"{name}.old")


def swap_in(config: PipelineConfig, name: str, staged: str, manifest: dict) -> None:
    """Replace the stage's folder with the complete `staged` one (its manifest written).

    Local: two renames (old aside, new in), then the old folder is deleted; a kill
    between the renames is repaired by `recover_swap`. Object stores have no
    folders to rename: the old manifest goes first (the stage reads `incomplete`
    from then on), then the old files; the new files are moved in and the
    manifest, with the moved files' mtimes, is written last.
    """
    final = stage_dir(config, name)
    if filesystems.is_local(final):
        old = _old_dir(config, name)
        filesystems.delete_tree(old)
        if os.path.lexists(final):
            os.rename(final, old)
        os.rename(staged, final)
        filesystems.delete_tree(old)
        remove_if_empty(os.path.dirname(staged))
        return
    final_manifest = FileSystems.join(final, MANIFEST)
    if FileSystems.exists(final_manifest):
        FileSystems.delete([filesystems.literal(final_manifest)])
    filesystems.delete_tree(final)
    FileSystems.delete([filesystems.literal(FileSystems.join(staged, MANIFEST))])
    filesystems.move_tree(staged, final)
    listing = filesystems.tree_listing(final)
    for rel, record in manifest.get("files", {}).items():
        if rel in listing:
            record["mtime"] = listing[rel][1]
    filesystems.write_json(final_manifest, manifest)
    filesystems.delete_tree(staged)


def recover_swap(config: PipelineConfig, name: str) -> None:
    """Put back a complete old output that a kill mid-swap left aside (local roots)."""
    final, old = stage_dir(config, name), _old_dir(config, name)
    if not filesystems.is_local(final) or os.path.lexists(final):
        return
    if load_manifest(old)[0] is not None:
        print(f"[{name}] restoring the output a killed run left at {old}", file=sys.stderr)
        os.rename(old, final)


def print_summary(name: str, counters: Mapping[str, int], seconds: float) -> None:
    width = max([len(k) for k in counters] + [10])
    lines = [f"[{name}] finished in {seconds:.1f} s", f"  {'counter':<{width}}  {'value':>12}"]
    lines += [f"  {k:<{width}}  {v:>12,}" for k, v in counters.items() if not k.startswith("progress_")]
    print("\n".join(lines), file=sys.stderr)


def select_stages(
    names: Sequence[str],
    only: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> list[str]:
    """The slice of `names` chosen by --stages / --from / --to (order preserved)."""
    for n in list(only or []) + [x for x in (start, end) if x]:
        if n not in names:
            raise ValueError(f"unknown stage {n!r}; stages are: {', '.join(names)}")
    chosen = list(names)
    if start:
        chosen = chosen[chosen.index(start) :]
    if end:
        chosen = chosen[: chosen.index(end) + 1]
    if only:
        chosen = [n for n in chosen if n in only]
    return chosen
