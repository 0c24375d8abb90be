"""Several stages as one Beam job (`runner.jobs: fused`).

Dataflow starts a pool of workers for every job; fused, the Beam stages of a
run share one job and one start-up. Each stage is wired by its own `build`
into the job, writing into its staging folder; a stage reads an upstream of
the same job only once that upstream's completion element has come (a global
count of its last step: `StageContext.after`, `filesystems.match_files` and
its siblings). After the job the stages are finished in order exactly as a
stage run alone (`runner`: finalize, manifest, swap); when the job fails, none
of them is swapped in.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Mapping, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.config import PipelineConfig
from pipeline.io import filesystems
from pipeline.layout import MANIFEST, stage_dir
from pipeline.run import progress
from pipeline.run.runner import (
    Survey,
    check_stage_files,
    check_upstream,
    input_files,
    job_counters,
    load_manifest,
    manifest_token,
    parse_beam_options,
    print_summary,
    recover_swap,
    remove_if_empty,
    scratch_space,
    stage_context,
    stage_manifest,
    staging_dir,
    swap_in,
)
from pipeline.run.stage import Stage, StageContext


def plan_jobs(
    config: PipelineConfig, names: Sequence[str], stages: Mapping[str, Stage], force: bool = False
) -> list[list[str]]:
    """`names` (in order) grouped into Beam jobs: one per stage, or with
    `runner.jobs: fused` as `group_stages` fuses the stages that will run. A stage
    runs when forced, when it is not `done`, or when an upstream runs before it in
    the same command; one that will be skipped stays alone (run_stage skips it)."""
    if config.runner.resolved_jobs != "fused":
        return [[name] for name in names]
    survey = Survey(config, stages)
    running: set[str] = set()
    for name in names:
        if force or survey.status(name).state != "done" or any(up in running for up in stages[name].upstream):
            running.add(name)
    return group_stages(names, stages, running)


def group_stages(names: Sequence[str], stages: Mapping[str, Stage], running: set[str]) -> list[list[str]]:
    """`names` in jobs: a stage in `running` that can be fused (`Stage.fusable`, a
    Beam stage) joins the job before it when that job's stages run too; every
    other stage is a job of its own."""
    jobs: list[list[str]] = []
    for name in names:
        stage, last = stages[name], (jobs[-1] if jobs else None)
        joins = (
            name in running
            and stage.fusable
            and stage.build is not None
            and last is not None
            and last[0] in running
            and stages[last[0]].build is not None
        )
        if joins:
            last.append(name)
        else:
            jobs.append([name])
    return jobs


def run_fused(
    config: PipelineConfig,
    job: Sequence[Stage],
    stages: Mapping[str, Stage],
    extra_args: Sequence[str] = (),
) -> list[dict]:
    """Run `job`'s stages (in order, each read by the later ones) as one Beam job;
    returns their manifests. Each stage writes into its staging folder; after the
    job, each in turn is finalized, gets its manifest and is swapped in, as
    run_stage does. When the job fails, every staging folder goes and the old
    outputs stay. Raises RunRefused (nothing written) when a check fails."""
    names = [stage.name for stage in job]
    label = "+".join(names)
    for name in names:
        recover_swap(config, name)
    survey = Survey(config, stages)
    for stage in job:
        check_upstream(
            survey, dataclasses.replace(stage, upstream=tuple(u for u in stage.upstream if u not in names))
        )
        check_stage_files(config, stage)
    options = parse_beam_options(config, extra_args)
    work = {name: staging_dir(config, name) for name in names}
    for folder in work.values():
        filesystems.delete_tree(folder)  # what a killed attempt left
    manifests: list[dict] = []
    try:
        manifest_of, inputs = (lambda name: survey.manifest(name)[0]), (lambda: input_files(config))
        with (
            scratch_space(config, names[0]),
            progress.track(config, names[0], manifest_of, inputs) as display,
        ):
            print(f"[{label}] running as one Beam job", file=sys.stderr)
            for stage in job:
                print(f"[{stage.name}] running: {stage.description}", file=sys.stderr)
            started = time.time()
            p = beam.Pipeline(options=options)
            build_fused(p, config, job, work)
            result = p.run()
            progress.wait_for_job(result, label)
            finished = time.time()
            counters = {}
            for stage in job:
                filesystems.delete_tree(FileSystems.join(work[stage.name], filesystems.TMP_DIR))
                counters[stage.name] = {n: 0 for n in stage.accounting} | job_counters(result, stage.name)
            if display is not None:
                display.finish(counters[names[0]])
            for stage in job:
                # Its upstreams are swapped in by now: finalize reads them where they stay.
                context = stage_context(config, stage, output_dir=work[stage.name])
                fingerprints = {
                    **survey.expected[stage.name],
                    "upstream": {
                        up: manifest_token(load_manifest(stage_dir(config, up))[0]) for up in stage.upstream
                    },
                }
                manifest = stage_manifest(
                    config, stage, context, options, fingerprints, counters[stage.name], started, finished
                )
                manifest["job"] = {"stages": names, "seconds": round(finished - started, 2)}
                filesystems.write_json(FileSystems.join(work[stage.name], MANIFEST), manifest)
                swap_in(config, stage.name, work[stage.name], manifest)
                manifests.append(manifest)
    except BaseException:
        for folder in work.values():  # the stages not swapped in yet; those done stay
            filesystems.delete_tree(folder)
            remove_if_empty(os.path.dirname(folder))
        raise
    for manifest in manifests:
        print_summary(manifest["stage"], manifest["counters"], manifest["seconds"])
    return manifests


def build_fused(
    p: beam.Pipeline,
    config: PipelineConfig,
    job: Sequence[Stage],
    output_dirs: Mapping[str, str],
    offline: bool = False,
) -> None:
    """Wire `job`'s stages into `p`, each writing to its `output_dirs` entry and
    reading its in-job upstreams there, after their completion element."""
    names = frozenset(stage.name for stage in job)
    ready: dict[str, beam.PCollection] = {}
    for stage in job:
        context = StageContext(
            config=config,
            output_dir=output_dirs[stage.name],
            upstream_dirs={up: output_dirs.get(up) or stage_dir(config, up) for up in stage.upstream},
            offline=offline,
            ready={up: ready[up] for up in stage.upstream if up in ready},
            in_this_job=names,
        )
        ready[stage.name] = _completion(stage.build(p, context), stage.name)


def _completion(built, name: str):
    """One element once the stage's last PCollection (or all of several) is complete:
    a global count fires only after all its input has come, even when that is empty."""
    if isinstance(built, dict):
        built = tuple(built.values())
    if isinstance(built, (tuple, list)):
        built = built | f"{name.capitalize()}Outputs" >> beam.Flatten()
    return built | f"{name.capitalize()}Complete" >> beam.combiners.Count.Globally()
