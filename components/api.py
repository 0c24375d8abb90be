"""The one door from `pipeline` into the TFX side.

`pipeline` (the train stage, the CLI's tools) calls only these functions;
each imports the heavy TFX / TensorFlow code when called, so importing this
module costs nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def run_local_pipeline(plan_path: str) -> int:
    """Run the plan's TFX pipeline with LocalDagRunner in a child process (TensorFlow's
    logical devices must be set before TensorFlow starts); returns its exit code."""
    # TF C++ warnings (input-pipeline end-of-sequence notices) say nothing about the run.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "components.local_run", plan_path], env=env).returncode


def compile_vertex(plan: dict[str, Any], vertex: dict[str, Any], output_path: str) -> dict:
    """Write the Vertex AI pipeline spec of a plan; returns the spec."""
    from components.pipeline_factory import compile_vertex as compile_spec

    return compile_spec(plan, vertex, output_path)


def finetune_command(
    config, export_dir: str | None, data_path: str | None, out_dir: str | None, init: str | None = None
) -> int:
    """`python -m pipeline finetune`: CPC-section classification on an export, or (init) on a
    Google-layout or hf/ model folder."""
    from components.finetune import finetune_command as command

    return command(config, export_dir, data_path, out_dir, init=init)


def evaluate_command(config, task: str, data_path: str | None, model_dirs: Sequence[str]) -> int:
    """`python -m pipeline evaluate`: fine-tune and score model folders on one downstream task."""
    from components.tasks.evaluate import evaluate_command as command

    return command(config, task, data_path, list(model_dirs))


def check_init_checkpoint(path: str, model_type: str, vocab_path: str) -> None:
    """Raises ValueError (one line naming the files) unless `path` is a model of `model_type`
    that training can start from with the vocab at `vocab_path` ("" = none configured):
    its config, its vocab, and every variable's name and shape against that config."""
    from components.model_formats.checkpoint import (
        check_vocab,
        check_weights,
        find_source,
        read_source_config,
    )

    read_source_config(path, model_type)
    if not vocab_path:
        raise ValueError(
            f"train.init_checkpoint {path}: set tfrecords.{model_type}_vocab to its vocab "
            f"({find_source(path).vocab}) so that the records use the checkpoint's token ids"
        )
    check_vocab(path, vocab_path)
    check_weights(path, model_type)


def export_command(argv: Sequence[str], default_export: str | None) -> int:
    """`python -m pipeline export`: write an export's saved_model/, google/ and hf/ formats."""
    from components.model_formats.cli import export_command as command

    return command(argv, default_export)


def load_encoder(export_dir: str):
    """(encoder restored from an export folder, its config dict)."""
    from components.trainer.export import load_encoder as load

    return load(export_dir)


__all__: Sequence[str] = (
    "check_init_checkpoint",
    "compile_vertex",
    "evaluate_command",
    "export_command",
    "finetune_command",
    "load_encoder",
    "run_local_pipeline",
)
