"""`python -m pipeline compile-vertex`: the train stage's TFX pipeline as a Vertex AI
(Kubeflow V2) pipeline spec, compiled offline from pipeline.yaml."""

from __future__ import annotations

import sys
from typing import Any

from components import api as tfx_side
from pipeline.config import DATAFLOW_FLAGS, ConfigError, PipelineConfig
from pipeline.run.registry import stage_table
from pipeline.run.runner import stage_context
from pipeline.stages import train


def vertex_settings(config: PipelineConfig) -> dict[str, Any]:
    """The Vertex AI settings compile_vertex needs, checked; raises ConfigError."""
    t, r = config.train, config.runner
    image = t.vertex_image or r.sdk_container_image
    for key, value in (
        ("runner.project", r.project),
        ("runner.region", r.region),
        ("train.vertex_image", image),
    ):
        if not value:
            raise ConfigError(f"{key}: required to compile for Vertex AI (e.g. --profile dataflow)")
    if "://" not in config.output_root:
        raise ConfigError(
            f"output_root: Vertex AI steps cannot reach the local path {config.output_root!r}; use gs://..."
        )
    return {
        "project": r.project,
        "region": r.region,
        "image": image,
        "machine_type": t.vertex_machine_type,
        "accelerator_type": t.vertex_accelerator_type,
        "accelerator_count": t.vertex_accelerator_count,
        "replica_count": t.vertex_replica_count,
    }


def compile_vertex_command(config: PipelineConfig, output_path: str) -> int:
    """`python -m pipeline compile-vertex`: the Vertex AI pipeline spec JSON, offline."""
    vertex = vertex_settings(config)
    stage = stage_table()[train.NAME]
    the_plan = train.plan(config, stage_context(config, stage, offline=True), offline=True)
    the_plan["metadata_path"] = ""  # Vertex AI keeps its own ML Metadata
    if config.runner.runner == "DataflowRunner":
        # StatisticsGen over the full corpus runs as a Dataflow job in the same image.
        r = config.runner
        the_plan["beam_pipeline_args"] = ["--runner=DataflowRunner"] + [
            f"--{key}={getattr(r, key)}" for key in DATAFLOW_FLAGS if getattr(r, key)
        ]
    spec = tfx_side.compile_vertex(the_plan, vertex, output_path)
    nodes = sorted(spec["pipelineSpec"]["deploymentSpec"]["executors"])
    print(
        f"[train] Vertex AI pipeline spec written to {output_path}: {len(nodes)} steps, image "
        f"{vertex['image']}, trainer on {vertex['replica_count']} x {vertex['machine_type']} with "
        f"{vertex['accelerator_count']} x {vertex['accelerator_type']}",
        file=sys.stderr,
    )
    return 0


def command(config: PipelineConfig, args, beam_args) -> int:
    """`python -m pipeline compile-vertex --out FILE`."""
    try:
        return compile_vertex_command(config, args.out)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
