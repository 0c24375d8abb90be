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
import time
from collections.abc import Sequence
from typing import Any

from components import api as tfx_side
from pipeline import layout
from pipeline.config import PipelineConfig, resolve_path
from pipeline.io import filesystems
from pipeline.layout import MANIFEST, SCHEMA_DIR, output_specs
from pipeline.pretraining.schema_files import schema_name
from pipeline.run.stage import Stage, StageContext
from pipeline.text.tokenizer import vocab_size

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
    "init_checkpoint",
)


def electra_max_predictions(seq_length: int, mask_prob: float = 0.15) -> int:
    """google-research/electra's default: int((mask_prob + 0.005) * max_seq_length)."""
    return int((mask_prob + 0.005) * seq_length)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def phase_settings(
    config: PipelineConfig, tfrecords, output: str, steps: int, vocab_size: int
) -> dict[str, Any]:
    """The TrainSettings dict (components.trainer.settings) of one phase; `tfrecords` is the
    section the tfrecords stage ran with."""
    spec = {s.name: s for s in output_specs(tfrecords)}[output]
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
        "v2_feature_names": tfrecords.v2_feature_names,
        "masking": tfrecords.masking if spec.flavour == "bert" else "static",
        "masked_lm_prob": tfrecords.masked_lm_prob,
        "init_checkpoint": "",  # set by plan() on the first phase of each model type
        "tokenizer_mode": "fast",
    }


def schema_file(
    config: PipelineConfig, output: str, tfrecords_dir: str, v2_names: bool, masking: str = "static"
) -> str:
    """train.schema_dir/<output>/schema.pbtxt, by default the project's
    tfrecords_schema/ (`<output>-dynamic/` for dynamic-masking BERT records); with v2
    feature names, the copy the tfrecords stage wrote beside its output (the committed
    files use Google's names)."""
    if config.train.schema_dir:
        return filesystems.join(resolve_path(config, config.train.schema_dir), output, "schema.pbtxt")
    if v2_names:
        return filesystems.join(tfrecords_dir, output, "schema.pbtxt")
    return os.path.join(SCHEMA_DIR, schema_name(output, masking), "schema.pbtxt")


def plan(config: PipelineConfig, ctx: StageContext, offline: bool = False) -> dict[str, Any]:
    """Everything the TFX pipeline needs, as JSON-able data (see module docstring).

    offline: for compiling without reaching the data (compile-vertex with a
    bucket this machine cannot read): vocab_size 0 (the trainer counts the vocab
    file when it starts) and the compile time instead of the records'
    fingerprint (so each compiled pipeline imports the records afresh).
    """
    tfrecords_dir = ctx.upstream_dirs[layout.TFRECORDS]
    tfrecords = ctx.upstream_section(layout.TFRECORDS)
    vocabs = layout.pretraining_vocabs(config, tfrecords, ctx.upstream_dirs[layout.VOCAB])
    if offline:
        records_fingerprint = "compiled-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        sizes = {flavour: 0 for flavour in vocabs}
    else:
        records_fingerprint = filesystems.read_json(filesystems.join(tfrecords_dir, MANIFEST))["fingerprint"]
        sizes = {flavour: vocab_size(path) for flavour, path in vocabs.items()}
    root = ctx.output_dir
    # The export carries the tokenizer's whole state: the user dictionary the
    # records were analysed with.
    dictionary_dir = layout.stage_dir(config, layout.DICTIONARY)
    use_dictionary = ctx.upstream_section(layout.MORPH).use_user_dictionary
    init = resolve_path(config, config.train.init_checkpoint) if config.train.init_checkpoint else ""
    phases = []
    for phase in config.train.phases:
        flavour = phase.output.partition("-")[0]
        settings = phase_settings(config, tfrecords, phase.output, phase.steps, sizes[flavour])
        if not any(p["model_type"] == flavour for p in phases):
            settings["init_checkpoint"] = init  # later phases chain through base_model
        settings["user_dictionary"] = (
            filesystems.join(dictionary_dir, layout.USER_DIC) if use_dictionary else ""
        )
        settings["user_csv"] = filesystems.join(dictionary_dir, layout.USER_CSV) if use_dictionary else ""
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
                "examples_uri": filesystems.join(tfrecords_dir, phase.output),
                "examples_fingerprint": records_fingerprint,
                # Vertex AI steps cannot read this machine's tfrecords_schema/: they
                # import the copy the tfrecords stage wrote beside its records.
                "schema_file": (
                    filesystems.join(tfrecords_dir, phase.output, "schema.pbtxt")
                    if offline
                    else schema_file(
                        config, phase.output, tfrecords_dir, tfrecords.v2_feature_names, tfrecords.masking
                    )
                ),
                "vocab_path": vocabs[flavour],
                "settings": settings,
                "checkpoint_dir": filesystems.join(root, "checkpoints", f"{phase.output}-{key}"),
                "export_dir": filesystems.join(root, "export", phase.output),
            }
        )
    local = "://" not in root
    return {
        "pipeline_name": "korpat-pretraining",
        "pipeline_root": filesystems.join(root, "tfx"),
        "metadata_path": os.path.join(root, "tfx", "metadata.sqlite") if local else "",
        "enable_cache": config.train.enable_cache,
        "fail_on_anomalies": config.train.fail_on_anomalies,
        "cpu_replicas": config.train.cpu_replicas,
        "phases": phases,
        "result_path": filesystems.join(root, RESULT_FILE),
    }


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
    filesystems.write_json(plan_path, the_plan)
    if os.path.exists(the_plan["result_path"]):
        os.remove(the_plan["result_path"])
    returncode = tfx_side.run_local_pipeline(plan_path)
    if returncode != 0:
        raise RuntimeError(f"train: the TFX pipeline failed (exit {returncode}); see the log above")
    result = filesystems.read_json(the_plan["result_path"])
    counters = {}
    for phase in the_plan["phases"]:
        metrics = result["phases"][phase["name"]].get("metrics", {})
        counters[f"steps_{phase['name']}"] = int(metrics.get("steps", 0))
    counters["phases"] = len(the_plan["phases"])
    return counters


def finalize(ctx: StageContext) -> dict:
    """Each phase's export folder and training figures, for the manifest."""
    result = filesystems.read_json(filesystems.join(ctx.output_dir, RESULT_FILE))
    return result["phases"]


def stage_files(config: PipelineConfig) -> list[str]:
    """The imported schema files (when they are not the tfrecords stage's own copies) and
    the checkpoint training starts from."""
    # With v2 feature names the schema is the tfrecords stage's own copy, which its
    # fingerprint already covers; listing the committed files as well costs nothing.
    files = [schema_file(config, phase.output, "", False) for phase in config.train.phases]
    if config.train.init_checkpoint:
        files.append(resolve_path(config, config.train.init_checkpoint))
    return files


def check_init_checkpoint(config: PipelineConfig) -> None:
    """train.init_checkpoint is a model we can start from, with the vocab the records use.

    Raises ValueError naming both files, before anything runs."""
    if not config.train.init_checkpoint:
        return
    path = resolve_path(config, config.train.init_checkpoint)
    flavours = {phase.output.partition("-")[0] for phase in config.train.phases}
    for flavour in sorted(flavours):
        configured = getattr(config.tfrecords, f"{flavour}_vocab")
        vocab = resolve_path(config, configured) if configured else ""
        tfx_side.check_init_checkpoint(path, flavour, vocab)


STAGE = Stage(
    name=NAME,
    upstream=("vocab", "tfrecords"),
    versions={"plan": PLAN_VERSION},
    build=None,
    execute=execute,
    keep_output=True,
    description="TFX: statistics, schema validation, BERT/ELECTRA pretraining, export",
    accounting=("phases",),
    check=check_init_checkpoint,
    files=stage_files,
    finalize=finalize,
)
