"""TFX Trainer entry point: `Trainer(run_fn="components.trainer.run.run_fn", ...)`.

custom_config keys: "settings" (a TrainSettings dict), "checkpoint_dir" (a
folder that stays the same across executions, so a re-run resumes),
"vocab_path", and optionally "cpu_replicas". FnArgs supply the data
(train_files / eval_files: folder globs such as `.../Split-train/*`), the step
counts when set (they override the settings), serving_model_dir (the export),
model_run_dir (TensorBoard logs) and base_model (a previous phase's export,
used to warm-start the encoder).
"""

from __future__ import annotations

import logging

from components.trainer.settings import TrainSettings

log = logging.getLogger(__name__)

CUSTOM_CONFIG_KEYS = {"settings", "checkpoint_dir", "vocab_path", "cpu_replicas"}


def settings_from_fn_args(fn_args) -> TrainSettings:
    """TrainSettings from custom_config["settings"], with FnArgs' step counts when set."""
    config = fn_args.custom_config or {}
    unknown = sorted(set(config) - CUSTOM_CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown custom_config keys: {', '.join(unknown)}")
    for key in ("settings", "checkpoint_dir"):
        if key not in config:
            raise ValueError(f"custom_config lacks {key!r}")
    values = dict(config["settings"])
    if fn_args.train_steps:
        values["train_steps"] = int(fn_args.train_steps)
    if fn_args.eval_steps:
        values["eval_steps"] = int(fn_args.eval_steps)
    if config.get("vocab_path"):
        values["vocab_path"] = config["vocab_path"]
    return TrainSettings.from_dict(values)


def run_fn(fn_args) -> dict:
    """Train, evaluate and export into fn_args.serving_model_dir; returns the metrics."""
    from components.trainer.strategy import configure_devices
    from components.trainer.train import train

    config = fn_args.custom_config or {}
    configure_devices(int(config.get("cpu_replicas") or 0))
    settings = settings_from_fn_args(fn_args)
    metrics = train(
        settings,
        train_files=fn_args.train_files,
        eval_files=fn_args.eval_files,
        checkpoint_dir=config["checkpoint_dir"],
        export_dir=fn_args.serving_model_dir,
        log_dir=fn_args.model_run_dir,
        init_checkpoint=fn_args.base_model or None,
    )
    log.info("training metrics: %s", {k: v for k, v in metrics.items() if k != "train_loss_history"})
    return metrics
