"""`python -m pipeline evaluate --task cls|ner|qa [--data PATH] [--model DIR ...]`.

Fine-tunes and scores each model on one task; writes the task's report to
`<output_root>/evaluate/<model name>/<task>.json` and the model's row of the results table
(KorPatELECTRA's layout: model | vocab size | NER F1 | CPC acc | QA EM / F1) to
`<output_root>/evaluate/results.json`, keeping the other tasks' and models' cells.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from components.tasks.common import NothingUsable
from pipeline.config import PipelineConfig, resolve_path
from pipeline.io import filesystems

TASKS = ("cls", "ner", "qa")
COLUMNS = ("model", "vocab_size", "ner_f1", "cpc_accuracy", "qa_exact_match", "qa_f1")


def model_name(model_dir: str) -> str:
    """`bert-128/1796617191` for an export, the folder's last two parts otherwise."""
    parts = os.path.normpath(model_dir).split(os.sep)
    return "/".join(parts[-2:])


def run_task(task: str, model_dir: str, data_path: str, settings) -> dict[str, Any]:
    if task == "cls":
        from components.tasks.classification import evaluate_classification as run
    elif task == "ner":
        from components.tasks.token_classification import evaluate_ner as run
    else:
        from components.tasks.question_answering import evaluate_qa as run
    return run(model_dir, data_path, settings)


def results_row(row: dict, task: str, report: dict) -> dict:
    if task == "cls":
        row.update(cpc_accuracy=report["accuracy"], cpc_baseline=report["baseline"]["accuracy"])
    elif task == "ner":
        row.update(ner_f1=report["f1"], ner_baseline=report["baseline"]["f1"])
    else:
        row.update(
            qa_exact_match=report["exact_match"],
            qa_f1=report["f1"],
            qa_baseline_exact_match=report["baseline"]["exact_match"],
            qa_baseline_f1=report["baseline"]["f1"],
        )
    return row


def update_results(path: str, name: str, vocab_size: int, task: str, report: dict) -> dict:
    results = {"columns": list(COLUMNS), "rows": []}
    if filesystems.exists(path):
        results = filesystems.read_json(path)
    rows = {r["model"]: r for r in results["rows"]}
    row = rows.setdefault(name, {"model": name, "vocab_size": vocab_size})
    results_row(row, task, report)
    results["rows"] = [rows[k] for k in sorted(rows)]
    filesystems.write_json(path, results)
    return results


def summary(task: str, report: dict) -> str:
    b = report["baseline"]
    if task == "cls":
        return f"accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f} (majority {b['accuracy']:.4f})"
    if task == "ner":
        return f"entity F1 {report['f1']:.4f} (P {report['precision']:.4f}, R {report['recall']:.4f}; all O {b['f1']:.4f})"
    return f"EM {report['exact_match']:.2f}, F1 {report['f1']:.2f} (first sentence: EM {b['exact_match']:.2f}, F1 {b['f1']:.2f})"


def evaluate_command(config: PipelineConfig, task: str, data_path: str | None, model_dirs: list[str]) -> int:
    from pipeline.layout import export_for

    settings = config.evaluate
    if not model_dirs:
        try:
            model_dirs = [export_for(config, settings.model)]
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    data_path = data_path or resolve_path(config, getattr(settings, f"{task}_data"))
    for path, what in [(data_path, "data"), *((m, "model folder") for m in model_dirs)]:
        if not filesystems.exists(path):
            print(f"error: {what} not found: {path}", file=sys.stderr)
            return 2
    out_root = filesystems.join(resolve_path(config, config.output_root), "evaluate")
    for model_dir in model_dirs:
        try:
            report = run_task(task, model_dir, data_path, settings)
        except NothingUsable as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        name = model_name(model_dir)
        report = {"model": name, "model_folder": model_dir, **report}
        from components.tasks.common import model_tokenizer_files
        from pipeline.text.tokenizer import vocab_size

        size = vocab_size(model_tokenizer_files(model_dir)[0])
        report["vocab_size"] = size
        filesystems.write_json(filesystems.join(out_root, name.replace("/", "-"), f"{task}.json"), report)
        update_results(filesystems.join(out_root, "results.json"), name, size, task, report)
        skipped = report["problems"]["skipped"]
        print(f"[evaluate {task}] {name}: {summary(task, report)}")
        t = report["throughput"]
        print(
            f"  examples train {report['examples']['train']}, test {report['examples']['test']}; "
            f"{t['train_examples_per_second']} train ex/s, {t['predict_examples_per_second']} predict ex/s"
        )
        if skipped:
            print(f"  skipped {sum(skipped.values())}: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
            for line in report["problems"]["first"][:5]:
                print(f"    {line}")
    print(f"  results        {filesystems.join(out_root, 'results.json')}")
    return 0
