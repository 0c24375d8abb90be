"""The TFX pretraining pipeline: one chain of nodes per training phase.

    Importer (the tfrecords stage's output as an Examples artifact)
      -> StatisticsGen -> ImportSchemaGen (tfrecords_schema/<output>/schema.pbtxt)
      -> ExampleValidator -> AnomaliesGate -> Trainer (components.trainer.run.run_fn)
      -> ExportPusher (the export folder; TFX's Pusher, nested saved_model.pb kept)

The tfrecords stage already writes `Split-train/` and `Split-eval/` folders of
`.tfrecord.gz` files, which is what an Examples artifact holds, so an Importer
registers them in place: ImportExampleGen would re-read and re-write every
record (and re-split a single split 2:1). The Importer's artifact carries the
tfrecords stage's fingerprint, so new records make a new artifact and every node
downstream runs again, while unchanged records let TFX's cache skip them.

Phases of one model type chain through the Trainer's `base_model`: bert-512
starts from bert-128's export, as KorPatBERT's two-phase schedule did.

`create_pipeline(plan)` takes a plan (a JSON-able dict built by
`pipeline.stages.train.plan`) so the same description runs locally (LocalDagRunner,
ML Metadata in SQLite) or compiles for Vertex AI Pipelines (`compile_vertex`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

RUN_FN = "components.trainer.run.run_fn"


def node_suffix(phase_name: str) -> str:
    """bert-128 -> bert_128 (TFX node ids are identifiers)."""
    return phase_name.replace("-", "_")


def _trainer(phase: Mapping[str, Any], examples, schema, base_model, vertex: Mapping[str, Any] | None):
    from tfx import v1 as tfx

    custom_config = {
        "settings": phase["settings"],
        "checkpoint_dir": phase["checkpoint_dir"],
        "vocab_path": phase["vocab_path"],
    }
    kwargs = dict(
        examples=examples,
        schema=schema,
        run_fn=RUN_FN,
        train_args=tfx.proto.TrainArgs(num_steps=phase["settings"]["train_steps"]),
        eval_args=tfx.proto.EvalArgs(num_steps=phase["settings"]["eval_steps"]),
    )
    if base_model is not None:
        kwargs["base_model"] = base_model
    if vertex is None:
        return tfx.components.Trainer(custom_config=custom_config, **kwargs)

    # Vertex AI: the same run_fn in a CustomJob on GPU machines. One machine
    # gets MirroredStrategy over its GPUs; several get MultiWorkerMirroredStrategy
    # (Vertex sets TF_CONFIG, which components.trainer.strategy reads).
    from tfx.extensions.google_cloud_ai_platform import constants as vertex_constants
    from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_executor

    machine_spec = {"machine_type": vertex["machine_type"]}
    if vertex["accelerator_count"]:
        machine_spec["accelerator_type"] = vertex["accelerator_type"]
        machine_spec["accelerator_count"] = vertex["accelerator_count"]
    pool = {
        "machine_spec": machine_spec,
        "replica_count": 1,
        "container_spec": {"image_uri": vertex["image"]},
    }
    pools = [pool]
    if vertex["replica_count"] > 1:
        pools.append({**pool, "replica_count": vertex["replica_count"] - 1})
    custom_config.update(
        {
            vertex_constants.ENABLE_VERTEX_KEY: True,
            vertex_constants.VERTEX_REGION_KEY: vertex["region"],
            vertex_executor.TRAINING_ARGS_KEY: {"project": vertex["project"], "worker_pool_specs": pools},
        }
    )
    return tfx.extensions.google_cloud_ai_platform.Trainer(custom_config=custom_config, **kwargs)


def create_pipeline(plan: Mapping[str, Any], vertex: Mapping[str, Any] | None = None):
    """The TFX pipeline described by `plan` (see module docstring).

    vertex: None for LocalDagRunner; for Vertex AI a mapping with project,
    region, image, machine_type, accelerator_type, accelerator_count, replica_count.
    """
    from tfx import v1 as tfx

    from components.gate import AnomaliesGate
    from components.pusher import ExportPusher

    components = []
    last_trainer: dict[str, Any] = {}  # model type -> its latest phase's Trainer
    for phase in plan["phases"]:
        suffix = node_suffix(phase["name"])
        examples = tfx.dsl.Importer(
            source_uri=phase["examples_uri"],
            artifact_type=tfx.types.standard_artifacts.Examples,
            properties={"split_names": json.dumps(["train", "eval"])},
            # A new fingerprint (new records at the same path) makes a new
            # artifact, so nothing downstream is served from the cache.
            custom_properties={
                "payload_format": "FORMAT_TF_EXAMPLE",
                "tfrecords_fingerprint": phase["examples_fingerprint"],
            },
        ).with_id(f"examples_{suffix}")
        statistics = tfx.components.StatisticsGen(examples=examples.outputs["result"]).with_id(
            f"statistics_{suffix}"
        )
        schema = tfx.components.ImportSchemaGen(schema_file=phase["schema_file"]).with_id(f"schema_{suffix}")
        validator = tfx.components.ExampleValidator(
            statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"]
        ).with_id(f"validator_{suffix}")
        gate = AnomaliesGate(
            anomalies=validator.outputs["anomalies"], fail=bool(plan.get("fail_on_anomalies", True))
        ).with_id(f"anomalies_gate_{suffix}")
        previous = last_trainer.get(phase["model_type"])
        trainer = _trainer(
            phase,
            examples=examples.outputs["result"],
            schema=schema.outputs["schema"],
            base_model=previous.outputs["model"] if previous is not None else None,
            vertex=vertex,
        ).with_id(f"trainer_{suffix}")
        # The gate has no output the Trainer reads; this edge is what stops
        # training on records that do not match their schema.
        trainer.add_upstream_node(gate)
        pusher = ExportPusher(
            model=trainer.outputs["model"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=phase["export_dir"])
            ),
        ).with_id(f"pusher_{suffix}")
        last_trainer[phase["model_type"]] = trainer
        components += [examples, statistics, schema, validator, gate, trainer, pusher]

    metadata = None
    if plan.get("metadata_path"):
        metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(plan["metadata_path"])
    return tfx.dsl.Pipeline(
        pipeline_name=plan["pipeline_name"],
        pipeline_root=plan["pipeline_root"],
        components=components,
        enable_cache=bool(plan.get("enable_cache", True)),
        metadata_connection_config=metadata,
        beam_pipeline_args=list(plan.get("beam_pipeline_args", [])),
    )


def compile_vertex(plan: Mapping[str, Any], vertex: Mapping[str, Any], output_path: str) -> dict:
    """Write the Vertex AI (Kubeflow V2) pipeline spec JSON; returns it parsed.

    Offline: compiling touches neither Google Cloud nor the network.
    """
    # Imported from its module: tfx.v1's `experimental` re-export also needs the
    # full `kfp` SDK, which compiling does not (kfp-pipeline-spec is enough).
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kubeflow_v2

    pipeline = create_pipeline(plan, vertex=vertex)
    runner = kubeflow_v2.KubeflowV2DagRunner(
        config=kubeflow_v2.KubeflowV2DagRunnerConfig(default_image=vertex["image"]),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path),
    )
    runner.run(pipeline, write_out=True)
    with open(output_path, encoding="utf-8") as f:
        return json.load(f)
