"""Commands on trained models (`finetune`, `evaluate`, `export`); they reach the TFX side through
`components.api`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from components import api as tfx_side
from pipeline.config import PipelineConfig
from pipeline.layout import export_for


def finetune(config: PipelineConfig, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline finetune [--export DIR | --init DIR] [--data TSV] [--out DIR]`."""
    if args.export and args.init:
        print("error: finetune takes --export or --init, not both", file=sys.stderr)
        return 2
    return tfx_side.finetune_command(config, args.export, args.data, args.out, init=args.init)


def evaluate(config: PipelineConfig, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline evaluate --task cls|ner|qa [--data PATH] [--model DIR ...]`."""
    return tfx_side.evaluate_command(config, args.task, args.data, args.model or [])


def export(config: PipelineConfig, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline export [--export DIR] [--format saved_model,google,hf] [--out DIR]`."""
    default = None
    if not args.export:
        try:
            default = export_for(config, config.finetune.model)
        except RuntimeError as e:
            print(f"error: {e}; or pass --export DIR", file=sys.stderr)
            return 2
    argv = ["--export", args.export or default, "--format", args.format]
    if args.out:
        argv += ["--out", args.out]
    return tfx_side.export_command(argv, None)
