"""Run a training plan's TFX pipeline with LocalDagRunner (the train stage's child process).

    python -m components.local_run PLAN.json

PLAN.json is what `pipeline.stages.train.plan` writes. The CPU is split into logical
devices first (before anything starts TensorFlow), so that with no GPU the
Trainer's MirroredStrategy still has `cpu_replicas` replicas. When the pipeline
has finished, each phase's newest export and its training figures are written
to the plan's `result_path`.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        plan = json.load(f)

    from pipeline import logs

    # Before TensorFlow loads: its C++ start-up lines (cuDNN/cuFFT factories,
    # TensorRT) are error-level on a CPU machine; the CLI's -v shows them.
    if not logs.is_verbose():
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    logs.quiet_libraries(logs.is_verbose())

    from components.trainer.strategy import configure_devices

    configure_devices(int(plan.get("cpu_replicas", 1)))

    from tfx import v1 as tfx

    from components.pipeline_factory import create_pipeline
    from pipeline.layout import newest_export

    # TFX warns on every node about MLMD features SQLite lacks, and that Pusher
    # pushes without a blessing (pretraining has no Evaluator to give one):
    # logs.quiet_libraries drops absl's warnings, even after TFX resets its level.
    os.makedirs(os.path.dirname(plan["metadata_path"]), exist_ok=True)
    started = time.time()
    tfx.orchestration.LocalDagRunner().run(create_pipeline(plan))
    result = {"seconds": round(time.time() - started, 1), "phases": {}}
    for phase in plan["phases"]:
        export = newest_export(phase["export_dir"])
        if export is None:
            print(f"error: phase {phase['name']} finished without an export", file=sys.stderr)
            return 1
        with open(os.path.join(export, "training.json"), encoding="utf-8") as f:
            metrics = json.load(f)
        result["phases"][phase["name"]] = {
            "export": export,
            "checkpoint_dir": phase["checkpoint_dir"],
            "metrics": metrics,
        }
        print(f"[train] {phase['name']}: exported to {export}", file=sys.stderr)
    with open(plan["result_path"], "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
