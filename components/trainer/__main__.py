"""`python -m components.trainer`: train one model from the command line.

    python -m components.trainer --settings '{"model_type": "bert"}' \\
        --train 'out/tfrecords/bert-128/Split-train/*' --eval 'out/tfrecords/bert-128/Split-eval/*' \\
        --vocab out/vocab/bert/vocab.txt --checkpoint-dir ckpt --export-dir export --log-dir logs \\
        [--cpu-replicas 2] [--init-checkpoint previous_export]

--settings is a JSON object or the path of a JSON file. The metrics are
printed as one JSON line prefixed with "METRICS " at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m components.trainer", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--settings", required=True, help="TrainSettings as a JSON object or a JSON file path."
    )
    parser.add_argument("--train", required=True, action="append", help="Train file glob (repeatable).")
    parser.add_argument("--eval", action="append", default=[], help="Eval file glob (repeatable).")
    parser.add_argument("--vocab", help="vocab.txt (else settings.vocab_path).")
    parser.add_argument("--checkpoint-dir", required=True, help="Checkpoints; a re-run resumes from here.")
    parser.add_argument("--export-dir", required=True, help="Where the trained encoder is exported.")
    parser.add_argument("--log-dir", required=True, help="TensorBoard summaries.")
    parser.add_argument(
        "--cpu-replicas", type=int, default=0, help="Logical CPU devices when there is no GPU."
    )
    parser.add_argument("--init-checkpoint", help="A previous phase's export dir to warm-start the encoder.")
    return parser.parse_args(argv)


def load_settings(value: str) -> dict:
    if value.lstrip().startswith("{"):
        return json.loads(value)
    with open(value, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pipeline import logs

    # Before TensorFlow loads: its start-up lines and deprecation notices, unless
    # KORPAT_VERBOSE=1 (the CLI's -v).
    logs.quiet_libraries(logs.is_verbose())
    # tf.distribute logs every all-reduce it builds at INFO.
    logging.getLogger("tensorflow").setLevel(logging.WARNING if logs.is_verbose() else logging.ERROR)
    from components.trainer.settings import TrainSettings
    from components.trainer.strategy import configure_devices

    try:
        settings = TrainSettings.from_dict(load_settings(args.settings))
    except (ValueError, TypeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Before anything initialises TensorFlow's devices.
    configure_devices(args.cpu_replicas)
    from components.trainer.train import train

    metrics = train(
        settings,
        train_files=args.train,
        eval_files=args.eval,
        checkpoint_dir=args.checkpoint_dir,
        export_dir=args.export_dir,
        log_dir=args.log_dir,
        init_checkpoint=args.init_checkpoint,
        vocab_path=args.vocab,
    )
    print("METRICS " + json.dumps(metrics), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
