"""`runner.jobs: fused`: consecutive stages in one Beam job, each still with its
own folder, manifest and swap, and a later stage reading an earlier one's files
only once they are complete."""

import dataclasses
import json
import os

import apache_beam as beam
import pytest

from pipeline.config import load_config
from pipeline.io import filesystems
from pipeline.run import fused_jobs, runner
from pipeline.run.registry import stage_table
from pipeline.run.stage import Stage
from tests.helpers import read_tree, run_cli, write_config, write_demo_config

PARTS = 3


def _write_part(index, output_dir):
    # The folder does not exist when the job starts: a reader that listed it
    # then, and not after this step, would see no file at all.
    folder = os.path.join(output_dir, "parts")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"part-{index}.txt"), "w", encoding="utf-8") as f:
        f.write(f"line {index}a\nline {index}b\n")
    return index


def _write_lines(lines, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in sorted(lines)))
    return len(lines)


def _fail(_):
    raise RuntimeError("the third stage breaks")


def build_parts(p, ctx):
    return p | "Parts" >> beam.Create(range(PARTS)) | "WriteParts" >> beam.Map(_write_part, ctx.output_dir)


def build_copy(p, ctx):
    glob = filesystems.join(ctx.upstream_dirs["ingest"], "parts", "part-*.txt")
    return (
        filesystems.read_text(p, glob, ctx.after("ingest"), "ReadParts")
        | "All" >> beam.combiners.ToList()
        | "WriteSeen" >> beam.Map(_write_lines, filesystems.join(ctx.output_dir, "seen.txt"))
    )


def build_count(p, ctx):
    glob = filesystems.join(ctx.upstream_dirs["clean"], "seen.txt")
    return (
        filesystems.read_text(p, glob, ctx.after("clean"), "ReadSeen")
        | "Count" >> beam.combiners.Count.Globally()
        | "AsText" >> beam.Map(str)
        | "One" >> beam.combiners.ToList()
        | "WriteCount" >> beam.Map(_write_lines, filesystems.join(ctx.output_dir, "count.txt"))
    )


def build_broken(p, ctx):
    return filesystems.start(p, ctx.after("clean")) | "Break" >> beam.Map(_fail)


STAGES = {
    "ingest": Stage("ingest", (), {"v": "1"}, build_parts),
    "clean": Stage("clean", ("ingest",), {"v": "1"}, build_copy, fusable=True),
    "nouns": Stage("nouns", ("clean",), {"v": "1"}, build_count, fusable=True),
}


@pytest.fixture
def fused_config(tmp_path, tiny_inputs):
    config = load_config(write_config(tmp_path, tiny_inputs))
    return dataclasses.replace(
        config, runner=dataclasses.replace(config.runner, jobs="fused", direct_running_mode="in_memory")
    )


def _read(config, *parts):
    with open(os.path.join(runner.output_root(config), *parts), encoding="utf-8") as f:
        return f.read()


def test_stages_run_as_one_job_and_each_reads_the_one_before_once_it_is_written(fused_config):
    config = fused_config
    assert fused_jobs.plan_jobs(config, list(STAGES), STAGES) == [["ingest", "clean", "nouns"]]
    manifests = fused_jobs.run_fused(config, list(STAGES.values()), STAGES)
    assert [m["stage"] for m in manifests] == ["ingest", "clean", "nouns"]
    expected = "".join(f"line {i}{x}\n" for i in range(PARTS) for x in "ab")
    assert _read(config, "clean", "seen.txt") == expected
    assert _read(config, "nouns", "count.txt") == f"{2 * PARTS}\n"
    # Each stage its own folder and manifest, as when run alone: all done, nothing staged.
    assert [s.state for s in runner.stage_status(config, STAGES)] == ["done"] * 3
    assert not os.path.exists(runner.staging_dir(config, "ingest"))
    for manifest in manifests:
        assert manifest["job"]["stages"] == ["ingest", "clean", "nouns"]
    ingest = runner.read_manifest(config, "ingest")
    assert manifests[1]["upstream"] == {"ingest": runner.manifest_token(ingest)}
    assert sorted(ingest["files"]) == [f"parts/part-{i}.txt" for i in range(PARTS)]
    # Done: a plain rerun plans nothing to fuse; forced, the three again.
    assert fused_jobs.plan_jobs(config, list(STAGES), STAGES) == [["ingest"], ["clean"], ["nouns"]]
    assert fused_jobs.plan_jobs(config, list(STAGES), STAGES, force=True) == [["ingest", "clean", "nouns"]]


def test_a_failure_late_in_the_job_keeps_every_old_output(fused_config):
    config = fused_config
    fused_jobs.run_fused(config, list(STAGES.values()), STAGES)
    before = {name: runner.read_manifest(config, name) for name in STAGES}
    broken = {**STAGES, "nouns": dataclasses.replace(STAGES["nouns"], build=build_broken)}
    with pytest.raises(Exception, match="the third stage breaks"):
        fused_jobs.run_fused(config, list(broken.values()), broken)
    assert {name: runner.read_manifest(config, name) for name in STAGES} == before
    assert _read(config, "nouns", "count.txt") == f"{2 * PARTS}\n"
    assert not os.path.exists(os.path.join(runner.output_root(config), runner.STAGING))


def test_the_data_stages_plan_as_one_job_on_dataflow_and_one_job_each_here(fused_config):
    stages = stage_table()
    names = list(stages)
    assert fused_jobs.plan_jobs(fused_config, names, stages) == [
        ["ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords"],
        ["train"],  # TFX, not a Beam job
    ]
    auto = dataclasses.replace(fused_config, runner=dataclasses.replace(fused_config.runner, jobs="auto"))
    assert auto.runner.resolved_jobs == "per_stage"
    assert fused_jobs.plan_jobs(auto, names, stages) == [[name] for name in names]
    dataflow = dataclasses.replace(auto.runner, runner="DataflowRunner")
    assert dataflow.resolved_jobs == "fused"


def test_a_dry_run_shows_the_jobs(tmp_path, tiny_inputs, capsys):
    from pipeline.cli import main

    config = write_config(tmp_path, tiny_inputs)
    assert main(["run", "--dry-run", "--config", config, "--to", "morph", "--set", "runner.jobs=fused"]) == 0
    out = capsys.readouterr().out
    assert "# jobs (fused): ingest+clean+nouns+dictionary+morph\n" in out
    assert main(["run", "--dry-run", "--config", config, "--to", "clean"]) == 0
    assert "# jobs (per_stage): ingest | clean\n" in capsys.readouterr().out


# ------------------------------------------------------------------ the demo, fused

FUSED_STAGES = ("ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords")


def _without_measurements(value):
    """A report without what it measured of the machine: wall-clock seconds and the
    noun scoring's memory ("..._seconds", "..._mb", "bytes_per_eojeol")."""
    if isinstance(value, dict):
        return {
            k: _without_measurements(v)
            for k, v in value.items()
            if not (k.endswith(("seconds", "_mb")) or k == "scoring_bytes_per_eojeol")
        }
    if isinstance(value, list):
        return [_without_measurements(v) for v in value]
    return value


def _stage_files(root, name):
    files = read_tree(os.path.join(root, name))
    manifest = json.loads(files.pop("manifest.json"))
    for rel in [rel for rel in files if rel.endswith(".json")]:
        files[rel] = _without_measurements(json.loads(files[rel]))
    return files, manifest


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_demo_fused_into_one_job_writes_the_same_bytes_as_one_job_per_stage(tmp_path, demo_tfrecords):
    """ingest up to tfrecords as one Beam job (DirectRunner, one process per core) writes
    every file of every stage as the per-stage run does (what reports measured of
    the machine aside), with the same counters, and leaves the stages `done`."""
    config = write_demo_config(tmp_path)
    done = run_cli(config, "run", "--to", "tfrecords", "--set", "runner.jobs=fused", timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"[{'+'.join(FUSED_STAGES)}] running as one Beam job" in done.stderr
    fused_root = str(tmp_path / "out")
    for name in FUSED_STAGES:
        fused, fused_manifest = _stage_files(fused_root, name)
        alone, alone_manifest = _stage_files(demo_tfrecords, name)
        assert sorted(fused) == sorted(alone), name
        different = [rel for rel in fused if fused[rel] != alone[rel]]
        assert different == [], (name, different)
        assert fused_manifest["counters"] == alone_manifest["counters"], name
        assert fused_manifest["fingerprint"] == alone_manifest["fingerprint"], name
        assert fused_manifest["job"]["stages"] == list(FUSED_STAGES)
    # The run report says whose seconds these are.
    report = (tmp_path / "out" / "report" / "index.html").read_text(encoding="utf-8")
    assert report.count(f"one job with {len(FUSED_STAGES) - 1} other stages") == len(FUSED_STAGES)
    status = run_cli(config, "status")
    lines = dict(line.split(None, 1) for line in status.stdout.splitlines())
    assert all(lines[name].startswith("done") for name in FUSED_STAGES), status.stdout
