"""Commands on trained models (`finetune`); they reach the TFX side through `components.api`."""

from __future__ import annotations

from collections.abc import Sequence

from components import api as tfx_side
from pipeline.config import PipelineConfig


def finetune(config: PipelineConfig, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline finetune [--export DIR] [--data TSV] [--out DIR]`."""
    return tfx_side.finetune_command(config, args.export, args.data, args.out)
