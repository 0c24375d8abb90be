"""Build a stage as a Dataflow job without submitting it (`python -m pipeline build-job`).

The stage's own `build` function wires its transforms into a pipeline whose
options come from the config (normally `--profile dataflow`) plus
`--dry_run=True`: DataflowRunner then translates the pipeline, resolves the
container image and worker settings, and returns the job instead of sending
it. Nothing is read, written or staged: stages only name their inputs
(`fileio.MatchFiles`, or a source with `validate=False`) while the pipeline is
built, and a job that uses `sdk_container_image` has no packages to stage.

What comes back is the Dataflow job description (worker pool with machine
type, disk, autoscaling ceiling and container image; the SDK pipeline options)
plus the transform labels and container images of the Beam pipeline it runs.
The job shuffles on the Dataflow Shuffle service: `runner.exchange: auto`
resolves to `beam` on DataflowRunner, so clean and tfrecords group their data
with Beam's GroupByKey, and the job's options carry the experiment
`shuffle_mode=service` (SERVICE_SHUFFLE), the service's default for batch jobs
made explicit, unless the config or command line names a shuffle_mode itself.

With `runner.jobs` resolving to `fused` (the default on DataflowRunner), the
chosen stages are built as `run` would run them: every Beam stage from ingest
to tfrecords in one job (`<first>+...+<last>.json`).

Offline, Beam's look-ups of credentials and of the temp and staging buckets
time out: about 35 s for the first stage a process builds, 10 to 15 s for
each next one.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2

from pipeline.config import ConfigError, PipelineConfig
from pipeline.io import filesystems
from pipeline.run import fused_jobs, runner
from pipeline.run.registry import stage_table

# Dataflow Shuffle: GroupByKey and CoGroupByKey run in the service's backend, not
# on the workers' disks and memory. Batch jobs get it by default in every region
# Dataflow supports; the experiment states it in the job, so that the job says
# which shuffle its exchanges (runner.exchange: beam) go through.
SERVICE_SHUFFLE = "shuffle_mode=service"


def shuffle_args(flags: Sequence[str]) -> list[str]:
    """`--experiments=shuffle_mode=service`, unless `flags` already choose a shuffle_mode."""
    if any("shuffle_mode=" in flag for flag in flags if flag.startswith("--experiment")):
        return []
    return [f"--experiments={SERVICE_SHUFFLE}"]


def build_job(
    config: PipelineConfig, job: Sequence[runner.Stage], extra_args: Sequence[str] = ()
) -> dict[str, Any]:
    """`job`'s stages (one, or several fused) as the Dataflow job `run` would submit,
    as JSON-able data; submits nothing."""
    if config.runner.runner != "DataflowRunner":
        raise ConfigError(
            f"runner.runner: build-job needs DataflowRunner, got {config.runner.runner!r} "
            "(use --profile dataflow)"
        )
    # --dry_run last, so that no flag from the command line can turn it off.
    shuffle = shuffle_args([*config.runner.options, *extra_args])
    options = runner.beam_options(config, [*shuffle, *extra_args, "--dry_run=True"])
    p = beam.Pipeline(options=options)
    if len(job) == 1:
        job[0].build(p, runner.stage_context(config, job[0], offline=True))
    else:
        folders = {stage.name: runner.stage_dir(config, stage.name) for stage in job}
        fused_jobs.build_fused(p, config, job, folders, offline=True)
    result = p.run()
    label = "+".join(stage.name for stage in job)
    return {**describe_job(label, result.job), "exchange": config.runner.resolved_exchange}


def describe_job(name: str, job) -> dict[str, Any]:
    """A dry-run `apiclient.Job` -> its Dataflow description, transforms and images
    (build_job adds the exchange the stage was built with).

    A dry run stops before the Dataflow client adds the environment (worker
    pool, container image, pipeline options) to the job; it is added here the
    way `DataflowApplicationClient.create_job_description` does, without
    staging anything (the staged-pipeline URL is where it would go).
    """
    from apache_beam.runners.dataflow.internal import apiclient

    environment = apiclient.Environment(
        packages=[],
        options=job.options,
        environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,
        proto_pipeline_staged_url=FileSystems.join(job.google_cloud_options.staging_location, "pipeline.pb"),
        proto_pipeline=job.proto_pipeline,
    )
    job.proto.environment = environment.proto
    components = job.proto_pipeline.components
    return {
        "stage": name,
        "container_images": container_images(job.proto_pipeline),
        "transforms": sorted(t.unique_name for t in components.transforms.values() if t.unique_name),
        "resource_hints": resource_hints(job.proto_pipeline),
        "job": json.loads(str(job)),
    }


def resource_hints(pipeline_proto) -> dict[str, dict[str, str]]:
    """Leaf transform -> its Beam resource hints (e.g. min_ram for noun scoring)."""
    components = pipeline_proto.components
    hints = {}
    for transform in components.transforms.values():
        env = components.environments.get(transform.environment_id)
        if env is not None and env.resource_hints and not transform.subtransforms:
            hints[transform.unique_name] = {k: v.decode() for k, v in sorted(env.resource_hints.items())}
    return dict(sorted(hints.items()))


def container_images(pipeline_proto) -> list[str]:
    images = set()
    for env in pipeline_proto.components.environments.values():
        if env.urn == common_urns.environments.DOCKER.urn:
            payload = beam_runner_api_pb2.DockerPayload.FromString(env.payload)
            images.add(payload.container_image)
    return sorted(images)


def worker_pool(description: dict[str, Any]) -> dict[str, Any]:
    """The job's (only) worker pool."""
    return description["job"]["environment"]["workerPools"][0]


def summary(description: dict[str, Any]) -> str:
    pool = worker_pool(description)
    autoscaling = pool.get("autoscalingSettings", {})
    return (
        f"[{description['stage']}] Dataflow job {description['job']['name']}: "
        f"{len(description['transforms'])} transforms, image {', '.join(description['container_images'])}, "
        f"machine {pool.get('machineType', 'default')}, "
        f"max workers {autoscaling.get('maxNumWorkers', 'default')}, disk {pool.get('diskSizeGb', 'default')} GB, "
        f"exchange {description.get('exchange', 'unknown')}"
    )


def command(config: PipelineConfig, args, beam_args: Sequence[str]) -> int:
    """`build-job`: the chosen stages as the Dataflow jobs `run` would submit (one per
    stage, or fused), printed as JSON or written to DIR/<stage>.json (DIR/<a>+<b>+....json)."""
    stages = stage_table()
    names, out = args.names, args.out

    beam_stages = [name for name, stage in stages.items() if stage.build is not None]
    for name in names:
        if name in stages and stages[name].build is None:
            print(
                f"error: stage {name} is a TFX pipeline, not a Beam job; compile it for Vertex AI "
                "with `python -m pipeline compile-vertex`",
                file=sys.stderr,
            )
            return 2
    try:
        names = runner.select_stages(beam_stages, names or None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    jobs = {}
    if config.runner.resolved_jobs == "fused":
        groups = fused_jobs.group_stages(names, stages, set(names))
    else:
        groups = [[name] for name in names]
    for group in groups:
        name = "+".join(group)
        started = time.monotonic()
        try:
            jobs[name] = build_job(config, [stages[n] for n in group], beam_args)
        except ConfigError as e:
            print(f"config error: {e}", file=sys.stderr)
            return 2
        except Exception as e:
            logging.exception("building stage %s failed", name)
            print(f"error: building stage {name} as a Dataflow job failed: {e}", file=sys.stderr)
            return 1
        print(f"{summary(jobs[name])}; built in {time.monotonic() - started:.1f} s", file=sys.stderr)
        if out:
            filesystems.write_json(filesystems.join(out, f"{name}.json"), jobs[name])
    if not out:
        print(json.dumps(jobs, ensure_ascii=False, indent=2, sort_keys=True))
    return 0
