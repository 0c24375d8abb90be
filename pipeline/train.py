"""Stage `train`: pretrain BERT and ELECTRA with TFX on the tfrecords stage's output.

The stage turns `pipeline.yaml` into a plan (`plan`): one entry per training
phase with its records, schema, trainer settings, a checkpoint folder and an
export folder. `components.local_run` runs the plan's TFX pipeline
(`components.pipeline_factory`) with LocalDagRunner and ML Metadata in SQLite
under `<output_root>/train/tfx/`, in a child process: TensorFlow's logical
devices (the CPU split into `train.cpu_replicas` replicas when there is no GPU)
can only be set before TensorFlow starts, and the Beam stages before this one
have started it in this process.

What stays between runs, so a killed or extended run continues instead of
starting over:
- `tfx/metadata.sqlite` and the artifacts: TFX's cache skips nodes whose
  inputs and settings are unchanged (statistics are not recomputed when only
  the step count grows).
- `checkpoints/<phase>-<digest>/`: the trainer restores the newest checkpoint
  (step count and optimizer state). The digest covers what makes a checkpoint
  incompatible or meaningless (model size, records, learning-rate schedule);
  more steps, eval or checkpoint settings reuse the folder.
- `export/<phase>/<timestamp>/`: Pusher's copies of each trained model
  (encoder SavedModel, checkpoint, config.json in KorPatBERT's keys, vocab.txt).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from pipeline import beam_io
from pipeline.config import PipelineConfig, resolve_path
from pipeline.runner import MANIFEST, Stage, StageContext, stage_dir

NAME = "train"
PLAN_VERSION = "tfx_v1"
PLAN_FILE = "plan.json"
RESULT_FILE = "result.json"
# Settings that change the meaning of a checkpoint: a new value starts a new folder.
CHECKPOINT_KEYS = (
    "model_type",
    "model_size",
    "vocab_size",
    "seq_length",
    "max_predictions",
    "global_batch_size",
    "learning_rate",
    "warmup_steps",
    "weight_decay",
    "seed",
    "v2_feature_names",
)


def electra_max_predictions(seq_length: int, mask_prob: float = 0.15) -> int:
    """google-research/electra's default: int((mask_prob + 0.005) * max_seq_length)."""
    return int((mask_prob + 0.005) * seq_length)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def phase_settings(config: PipelineConfig, output: str, steps: int, vocab_size: int) -> dict[str, Any]:
    """The TrainSettings dict (components.trainer.settings) of one phase."""
    from pipeline.tfrecords import output_specs

    spec = {s.name: s for s in output_specs(config.tfrecords)}[output]
    t = config.train
    return {
        "model_type": spec.flavour,
        "model_size": t.model_size,
        "vocab_size": vocab_size,
        "seq_length": spec.seq_length,
        "max_predictions": spec.max_predictions or electra_max_predictions(spec.seq_length),
        "train_steps": steps,
        "eval_steps": t.eval_steps,
        "global_batch_size": t.global_batch_size,
        "learning_rate": t.learning_rate or None,  # None: the size's default
        "warmup_steps": t.warmup_steps,
        "weight_decay": t.weight_decay,
        "checkpoint_every": t.checkpoint_every,
        "summary_every": t.summary_every,
        "keep_checkpoints": t.keep_checkpoints,
        "seed": t.seed,
        "mixed_precision": t.mixed_precision,
        "v2_feature_names": config.tfrecords.v2_feature_names,
    }


def schema_file(config: PipelineConfig, output: str, tfrecords_dir: str) -> str:
    """train.schema_dir/<output>/schema.pbtxt, by default the project's
    tfrecords_schema/; with v2 feature names, the copy the tfrecords stage wrote
    beside its output (the committed files use Google's names)."""
    from pipeline.tfrecords import SCHEMA_DIR

    if config.train.schema_dir:
        return beam_io.join(resolve_path(config, config.train.schema_dir), output, "schema.pbtxt")
    if config.tfrecords.v2_feature_names:
        return beam_io.join(tfrecords_dir, output, "schema.pbtxt")
    return os.path.join(SCHEMA_DIR, output, "schema.pbtxt")


def plan(config: PipelineConfig, ctx: StageContext, offline: bool = False) -> dict[str, Any]:
    """Everything the TFX pipeline needs, as JSON-able data (see module docstring).

    offline: for compiling without reaching the data (compile-vertex with a
    bucket this machine cannot read): vocab_size 0 (the trainer counts the vocab
    file when it starts) and the compile time instead of the records'
    fingerprint (so each compiled pipeline imports the records afresh).
    """
    from pipeline.tfrecords import vocab_paths, vocab_size

    tfrecords_dir = ctx.upstream_dirs["tfrecords"]
    vocabs = vocab_paths(ctx)
    if offline:
        records_fingerprint = "compiled-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        sizes = {flavour: 0 for flavour in vocabs}
    else:
        records_fingerprint = beam_io.read_json(beam_io.join(tfrecords_dir, MANIFEST))["fingerprint"]
        sizes = {flavour: vocab_size(path) for flavour, path in vocabs.items()}
    root = ctx.output_dir
    phases = []
    for phase in config.train.phases:
        flavour = phase.output.partition("-")[0]
        settings = phase_settings(config, phase.output, phase.steps, sizes[flavour])
        key = _digest(
            {
                "settings": {k: settings[k] for k in CHECKPOINT_KEYS},
                "records": records_fingerprint,
                # A later phase starts from the earlier ones of its model type.
                "before": [p["name"] for p in phases if p["model_type"] == flavour],
            }
        )
        phases.append(
            {
                "name": phase.output,
                "model_type": flavour,
                "examples_uri": beam_io.join(tfrecords_dir, phase.output),
                "examples_fingerprint": records_fingerprint,
                # Vertex AI steps cannot read this machine's tfrecords_schema/: they
                # import the copy the tfrecords stage wrote beside its records.
                "schema_file": (
                    beam_io.join(tfrecords_dir, phase.output, "schema.pbtxt")
                    if offline
                    else schema_file(config, phase.output, tfrecords_dir)
                ),
                "vocab_path": vocabs[flavour],
                "settings": settings,
                "checkpoint_dir": beam_io.join(root, "checkpoints", f"{phase.output}-{key}"),
                "export_dir": beam_io.join(root, "export", phase.output),
            }
        )
    local = "://" not in root
    return {
        "pipeline_name": "korpat-pretraining",
        "pipeline_root": beam_io.join(root, "tfx"),
        "metadata_path": os.path.join(root, "tfx", "metadata.sqlite") if local else "",
        "enable_cache": config.train.enable_cache,
        "fail_on_anomalies": config.train.fail_on_anomalies,
        "cpu_replicas": config.train.cpu_replicas,
        "phases": phases,
        "result_path": beam_io.join(root, RESULT_FILE),
    }


def newest_export(export_dir: str) -> str | None:
    """The newest `<export_dir>/<timestamp>/` Pusher wrote (None if none)."""
    from apache_beam.io.filesystems import FileSystems

    if not beam_io.tree_exists(export_dir):
        return None
    folders = set()
    for m in FileSystems.match([beam_io.join(export_dir, "*", "config.json")])[0].metadata_list:
        folders.add(m.path.rsplit("/", 2)[-2])
    numeric = sorted((f for f in folders if f.isdigit()), key=int)
    return beam_io.join(export_dir, numeric[-1]) if numeric else None


def execute(ctx: StageContext, extra_args: Sequence[str] = ()) -> dict[str, int]:
    """Run the plan's TFX pipeline in a child process; returns the stage's counters."""
    config = ctx.config
    if "://" in ctx.output_dir:
        raise RuntimeError(
            "train: LocalDagRunner keeps ML Metadata in SQLite on a local disk; with a gs:// "
            "output_root compile the pipeline for Vertex AI instead (python -m pipeline compile-vertex)"
        )
    the_plan = plan(config, ctx)
    os.makedirs(ctx.output_dir, exist_ok=True)
    plan_path = os.path.join(ctx.output_dir, PLAN_FILE)
    beam_io.write_json(plan_path, the_plan)
    if os.path.exists(the_plan["result_path"]):
        os.remove(the_plan["result_path"])
    # TF C++ warnings (input-pipeline end-of-sequence notices) say nothing about the run.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-m", "components.local_run", plan_path], env=env)
    if done.returncode != 0:
        raise RuntimeError(f"train: the TFX pipeline failed (exit {done.returncode}); see the log above")
    result = beam_io.read_json(the_plan["result_path"])
    counters = {}
    for phase in the_plan["phases"]:
        metrics = result["phases"][phase["name"]].get("metrics", {})
        counters[f"steps_{phase['name']}"] = int(metrics.get("steps", 0))
    counters["phases"] = len(the_plan["phases"])
    return counters


def finalize(ctx: StageContext) -> dict:
    """Each phase's export folder and training figures, for the manifest."""
    result = beam_io.read_json(beam_io.join(ctx.output_dir, RESULT_FILE))
    return result["phases"]


def export_for(config: PipelineConfig, model_type: str) -> str:
    """The newest export of the last phase of `model_type` (what finetune loads)."""
    phases = [p.output for p in config.train.phases if p.output.startswith(model_type + "-")]
    if not phases:
        raise RuntimeError(f"train.phases has no {model_type} phase to fine-tune")
    found = newest_export(beam_io.join(stage_dir(config, NAME), "export", phases[-1]))
    if found is None:
        raise RuntimeError(f"no trained {phases[-1]} model yet: run `python -m pipeline train` first")
    return found


def vertex_settings(config: PipelineConfig) -> dict[str, Any]:
    """The Vertex AI settings compile_vertex needs, checked; raises ConfigError."""
    from pipeline.config import ConfigError

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
    from components.pipeline_factory import compile_vertex
    from pipeline import runner
    from pipeline.config import DATAFLOW_FLAGS

    vertex = vertex_settings(config)
    stage = runner.stage_table()[NAME]
    the_plan = plan(config, runner.stage_context(config, stage), offline=True)
    the_plan["metadata_path"] = ""  # Vertex AI keeps its own ML Metadata
    if config.runner.runner == "DataflowRunner":
        # StatisticsGen over the full corpus runs as a Dataflow job in the same image.
        r = config.runner
        the_plan["beam_pipeline_args"] = ["--runner=DataflowRunner"] + [
            f"--{key}={getattr(r, key)}" for key in DATAFLOW_FLAGS if getattr(r, key)
        ]
    spec = compile_vertex(the_plan, vertex, output_path)
    nodes = sorted(spec["pipelineSpec"]["deploymentSpec"]["executors"])
    print(
        f"[train] Vertex AI pipeline spec written to {output_path}: {len(nodes)} steps, image "
        f"{vertex['image']}, trainer on {vertex['replica_count']} x {vertex['machine_type']} with "
        f"{vertex['accelerator_count']} x {vertex['accelerator_type']}",
        file=sys.stderr,
    )
    return 0


def stage_files(config: PipelineConfig) -> list[str]:
    """The imported schema files (when they are not the tfrecords stage's own copies)."""
    if config.tfrecords.v2_feature_names and not config.train.schema_dir:
        return []
    return [schema_file(config, phase.output, "") for phase in config.train.phases]


STAGE = Stage(
    name=NAME,
    upstream=("vocab", "tfrecords"),
    versions={"plan": PLAN_VERSION},
    build=None,
    execute=execute,
    keep_output=True,
    description="TFX: statistics, schema validation, BERT/ELECTRA pretraining, export",
    accounting=("phases",),
    files=stage_files,
    finalize=finalize,
)
