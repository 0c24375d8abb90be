"""Run stages as Beam jobs, skip the ones that are up to date, and record manifests.

Each stage writes under `<output_root>/<stage>/`. The last file a stage writes
is `manifest.json` (config, fingerprints, counters, timings, library versions):
a folder without it is an unfinished run, whatever else it holds, and later
stages refuse to read it.

A stage's fingerprint hashes its config section, its rule versions and the
fingerprints of what it reads (input file names, sizes and modification times
for `ingest`; the upstream stages' fingerprints otherwise). So a changed setting
makes that stage and everything downstream stale, and nothing upstream.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import platform
import sys
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
        matches = FileSystems.match([path])[0].metadata_list
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


def read_manifest(config: PipelineConfig, name: str) -> dict | None:
    path = FileSystems.join(stage_dir(config, name), MANIFEST)
    return filesystems.read_json(path) if FileSystems.exists(path) else None


@dataclasses.dataclass(frozen=True)
class StageStatus:
    name: str
    state: str  # done | stale | incomplete | missing
    detail: str = ""


def stage_status(config: PipelineConfig, stages: Mapping[str, Stage] | None = None) -> list[StageStatus]:
    stages = stages or stage_table()
    expected = expected_fingerprints(config, stages)
    statuses = []
    for name in stages:
        manifest = read_manifest(config, name)
        if manifest is None:
            if filesystems.tree_exists(stage_dir(config, name)):
                statuses.append(
                    StageStatus(name, "incomplete", "output without manifest: an interrupted run")
                )
            else:
                statuses.append(StageStatus(name, "missing"))
            continue
        want = expected[name]
        if manifest.get("fingerprint") == want["fingerprint"]:
            statuses.append(StageStatus(name, "done", f"finished {manifest.get('finished_at', '?')}"))
            continue
        reasons = []
        if manifest.get("config_fingerprint") != want["config_fingerprint"]:
            reasons.append("config or rule version changed")
        if manifest.get("input_fingerprints") != want["input_fingerprints"]:
            reasons.append("inputs changed")
        statuses.append(StageStatus(name, "stale", "; ".join(reasons)))
    return statuses


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


def stage_context(config: PipelineConfig, stage: Stage, offline: bool = False) -> StageContext:
    """offline: for building or compiling a job without reaching its data (see StageContext)."""
    return StageContext(
        config=config,
        output_dir=stage_dir(config, stage.name),
        upstream_dirs={up: stage_dir(config, up) for up in stage.upstream},
        offline=offline,
    )


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _counters(result, namespace: str) -> dict[str, int]:
    counters: dict[str, int] = {}
    for c in result.metrics().query()["counters"]:
        if c.key.metric.namespace != namespace:
            continue
        value = c.committed if c.committed is not None else c.attempted
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + int(value or 0)
    return dict(sorted(counters.items()))


def run_stage(
    config: PipelineConfig,
    stage: Stage,
    stages: Mapping[str, Stage],
    extra_args: Sequence[str] = (),
    force: bool = False,
) -> dict | None:
    """Run one stage unless it is up to date; returns its manifest (None if skipped)."""
    expected = expected_fingerprints(config, stages)[stage.name]
    out_dir = stage_dir(config, stage.name)
    manifest = read_manifest(config, stage.name)
    if not force and manifest and manifest.get("fingerprint") == expected["fingerprint"]:
        print(f"[{stage.name}] up to date, skipped (use --force to rerun)", file=sys.stderr)
        return None
    for up in stage.upstream:
        if read_manifest(config, up) is None:
            raise RuntimeError(f"stage {stage.name} needs {up}, which has not finished; run it first")

    # Remove the old manifest first: from here on the folder is "incomplete"
    # until the new manifest lands, whatever happens to this process.
    if stage.keep_output:
        manifest_path = FileSystems.join(out_dir, MANIFEST)
        if FileSystems.exists(manifest_path):
            FileSystems.delete([manifest_path])
    else:
        filesystems.delete_tree(out_dir)
    context = stage_context(config, stage)
    print(f"[{stage.name}] running: {stage.description}", file=sys.stderr)
    started = time.time()
    options = beam_options(config, extra_args)
    counters = {name: 0 for name in stage.accounting}
    if stage.execute is not None:
        counters.update(stage.execute(context, extra_args))
    else:
        p = beam.Pipeline(options=options)
        stage.build(p, context)
        result = p.run()
        result.wait_until_finish()
        filesystems.delete_tree(FileSystems.join(out_dir, filesystems.TMP_DIR))
        counters.update(_counters(result, stage.name))
    finished = time.time()
    counters = dict(sorted(counters.items()))
    manifest = {
        "stage": stage.name,
        **expected,
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
    filesystems.write_json(FileSystems.join(out_dir, MANIFEST), manifest)
    print_summary(stage.name, counters, manifest["seconds"])
    return manifest


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
