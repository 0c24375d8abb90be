"""`python -m pipeline report`: the run on one offline page, in KorPatBERT's terms.

In: an output root (`<output_root>/<stage>/manifest.json` and the stage outputs
the manifests describe; train's TensorBoard event files; `finetune/*/report.json`).
Out: `<output_root>/report/index.html` (self-contained: inline SVG charts, no
external reference, `lang="ko"`) and `report.json` (the same figures as data).

`collect` reads the figures (a section is None when its stage has no manifest
yet), `report_page.render` turns them into the page; both are plain functions,
so a test can build a report from a small synthetic output root.
"""

from __future__ import annotations

import collections
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import layout
from pipeline.io import filesystems
from pipeline.tools import report_page

log = logging.getLogger(__name__)

REPORT_DIR = "report"
# TFRecord examples read per output and split for the fill / NSP / masking figures.
DEFAULT_EXAMPLES = 2000
TOP_NOUNS = 20
TOP_COMPOUNDS = 15

# KorPatBERT's published corpus figures (its manual), as quoted in issue 17. Only
# what is quoted there is shown; every other cell of its table is "—".
KORPATBERT = {
    "documents_by_cpc": {"A": 564_606, "H": 1_013_023},
    "documents": None,
    "sentences": 460_448_189,
    "morphemes": 24_949_133_115,
    "size_bytes": 117e9,
}
KORPATBERT_SOURCE = "KorPatBERT manual (figures as quoted in this project's issue 17)"

STAGES = (
    layout.INGEST,
    layout.CLEAN,
    layout.NOUNS,
    layout.DICTIONARY,
    layout.MORPH,
    layout.VOCAB,
    layout.TFRECORDS,
    layout.TRAIN,
)
# ------------------------------------------------------------------ reading


def read_manifests(root: str) -> dict[str, dict | None]:
    """stage -> its manifest, None when the stage has not finished (no manifest)."""
    manifests: dict[str, dict | None] = {}
    for stage in STAGES:
        path = filesystems.join(root, stage, layout.MANIFEST)
        try:
            manifests[stage] = filesystems.read_json(path) if filesystems.exists(path) else None
        except (OSError, ValueError) as e:  # a damaged manifest counts as not run
            log.warning("%s: unreadable manifest (%s)", path, e)
            manifests[stage] = None
    return manifests


def documents_by_cpc(sentences_dir: str) -> dict[str, int]:
    """CPC section -> documents, from clean's sentence table. A document's rows are
    adjacent within one shard (ingest writes them so and clean keeps the order), so
    a document starts wherever doc_id changes: streamed, one record batch at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    counts: collections.Counter = collections.Counter()
    for path in filesystems.list_files(filesystems.join(filesystems.escape_glob(sentences_dir), "*.parquet")):
        previous = None
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=["doc_id", "cpc_section"], batch_size=65536):
                ids, cpc = batch.column(0), batch.column(1)
                if not len(ids):
                    continue
                before = pa.concat_arrays([pa.array([previous], ids.type), ids.slice(0, len(ids) - 1)])
                starts = pc.fill_null(pc.not_equal(ids, before), True)
                for row in pc.value_counts(pc.filter(cpc, starts)).to_pylist():
                    counts[row["values"] or "?"] += row["counts"]
                previous = ids[len(ids) - 1].as_py()
    return dict(sorted(counts.items()))


def _folder_bytes(root: str, stage: str, manifest: dict, subfolder: str) -> int:
    """Bytes of the files under `<stage>/<subfolder>/`: from the manifest's file list when
    it has one, else listed."""
    prefix = subfolder + "/"
    files = manifest.get("files")
    if files:
        return sum(r["size"] for rel, r in files.items() if rel.startswith(prefix))
    listing = filesystems.tree_listing(filesystems.join(root, stage, subfolder))
    return sum(size for size, _ in listing.values())


def corpus_figures(root: str, manifests: dict) -> dict | None:
    """KorPatBERT's corpus table for this run: documents by CPC section and in total,
    sentences, morphemes, corpus size (clean's text files, Google BERT's layout)."""
    clean, morph = manifests[layout.CLEAN], manifests[layout.MORPH]
    if clean is None:
        return None
    counters = clean.get("counters", {})
    return {
        "documents_by_cpc": documents_by_cpc(filesystems.join(root, layout.CLEAN, layout.SENTENCES)),
        "documents": counters.get("documents_written"),
        "sentences": counters.get("sentences_written"),
        "morphemes": (morph or {}).get("counters", {}).get("morphemes"),
        "size_bytes": _folder_bytes(root, layout.CLEAN, clean, layout.TEXT),
        "characters": counters.get("chars_written"),
    }


def is_drop(name: str) -> bool:
    """The counters that count what a stage left out: `*dropped*` and `rejected*`."""
    return "dropped" in name or name.startswith("rejected")


def drops(manifests: dict) -> dict[str, list[dict]] | None:
    """stage -> [{counter, count, total}] of its drop counters; `total` marks a counter
    that others break down by reason (`nouns_dropped` over `nouns_dropped_*`)."""
    if all(m is None for m in manifests.values()):
        return None
    out = {}
    for stage, manifest in manifests.items():
        if manifest is None:
            continue
        names = sorted(n for n in manifest.get("counters", {}) if is_drop(n))
        out[stage] = [
            {
                "counter": n,
                "count": manifest["counters"][n],
                "total": any(o.startswith(n + "_") for o in names),
            }
            for n in names
        ]
    return out


def noun_figures(root: str, manifest: dict | None) -> dict | None:
    if manifest is None:
        return None
    import pyarrow.parquet as pq

    path = filesystems.join(root, layout.NOUNS, layout.NOUNS_PARQUET)
    rows = []
    if filesystems.exists(path):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            rows = pq.read_table(f).to_pylist()
    rows.sort(key=lambda r: (-r["frequency"], r["noun"]))
    simple = [r for r in rows if not r["compound"]]
    compounds = [r for r in rows if r["compound"]]
    counters = manifest.get("counters", {})
    return {
        "nouns_written": counters.get("nouns_written"),
        "compounds_written": counters.get("compounds_written"),
        "eojeols_in": counters.get("eojeols_in"),
        "distinct_eojeols": counters.get("distinct_eojeols"),
        "top_nouns": [{k: r[k] for k in ("noun", "frequency", "score")} for r in simple[:TOP_NOUNS]],
        "top_compounds": [
            {"noun": r["noun"], "parts": r["parts"], "frequency": r["frequency"]}
            for r in compounds[:TOP_COMPOUNDS]
        ],
    }


def dictionary_figures(manifest: dict | None) -> dict | None:
    if manifest is None:
        return None
    report = manifest.get("report", {})
    return {
        "check": report.get("check", {}),
        "entries": report.get("entries"),
        "entries_by_source": report.get("entries_by_source", {}),
    }


def vocab_figures(manifest: dict | None) -> dict | None:
    if manifest is None:
        return None
    report = manifest.get("report", {})
    return {
        "requested": report.get("requested", {}),
        "flavours": report.get("flavours", {}),
        "train_sentences": report.get("train_sentences"),
    }


def tfrecord_figures(root: str, manifest: dict | None, examples: int) -> dict | None:
    """Per output: the example counts the stage wrote (exact) and tfrecord_stats'
    summaries of up to `examples` records per split."""
    if manifest is None:
        return None
    from pipeline.tools import tfrecord_stats

    vocabs = {}
    for flavour in ("bert", "electra"):
        path = layout.vocab_file(filesystems.join(root, layout.VOCAB), flavour)
        if filesystems.exists(path):
            from pipeline.text.tokenizer import parse_vocab

            ids = parse_vocab(filesystems.read_bytes(path).decode("utf-8"))
            vocabs[flavour] = [t for t, _ in sorted(ids.items(), key=lambda kv: kv[1])]
    outputs = {}
    report = dict(manifest.get("report") or {})
    nsp = report.pop("nsp", {})  # the label-1 share per output, shown with its output
    for name, counts in sorted(report.items()):
        splits = {}
        for split in layout.SPLITS:
            pattern = filesystems.join(
                filesystems.escape_glob(filesystems.join(root, layout.TFRECORDS, name)),
                f"Split-{split}",
                "*.tfrecord*",
            )
            files = filesystems.list_files(pattern)
            if files:
                flavour = name.split("-")[0]
                summary = tfrecord_stats.summarize(
                    tfrecord_stats.iter_examples(files, examples),
                    vocabs.get(flavour),
                    top=10,
                    keep_examples=0,
                )
                summary.pop("examples_decoded", None)
                splits[split] = summary
        outputs[name] = {"written": counts, "sampled": splits}
        if name in nsp:
            outputs[name]["nsp"] = nsp[name]
    return {"examples_per_split": examples, "outputs": outputs}


def _scalar(value) -> float | None:
    from tensorboard.util import tensor_util

    try:
        return float(tensor_util.make_ndarray(value.tensor_proto))
    except (TypeError, ValueError):
        return None


def training_curves(root: str) -> dict | None:
    """TensorBoard scalars under `train/`: {series label: {tag: [[step, value], ...]}}.
    The label is the trainer's run folder (phase) and writer (train or eval)."""
    train_dir = filesystems.join(root, layout.TRAIN)
    if not filesystems.tree_exists(train_dir):
        return None
    # any filesystem Beam reads (gs:// too); TensorBoard reads the folders through tf.io.gfile
    folders = sorted(
        {
            os.path.dirname(p)
            for p in filesystems.files_under(train_dir)
            if ".tfevents." in os.path.basename(p)
        }
    )
    if not folders:
        return {}
    from tensorboard.backend.event_processing import event_accumulator

    curves: dict[str, dict[str, dict[int, float]]] = {}
    for folder in folders:
        parts = folder[len(train_dir.rstrip("/")) + 1 :].split("/")
        # .../<Trainer node>/model_run/<execution>/<writer>: name the node, not the execution
        phase = parts[parts.index("model_run") - 1] if "model_run" in parts[1:] else "/".join(parts[:-1])
        label = f"{phase.removeprefix('trainer_')} {parts[-1]}".strip()
        accumulator = event_accumulator.EventAccumulator(
            folder, size_guidance={event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0}
        )
        accumulator.Reload()
        tags = accumulator.Tags()
        series = curves.setdefault(label, {})
        for tag in tags.get("tensors", []):
            for event in accumulator.Tensors(tag):
                value = _scalar(event)
                if value is not None:
                    series.setdefault(tag, {})[event.step] = value
        for tag in tags.get("scalars", []):
            for event in accumulator.Scalars(tag):
                series.setdefault(tag, {})[event.step] = event.value
    return {
        label: {tag: [[s, v] for s, v in sorted(points.items())] for tag, points in sorted(tags.items())}
        for label, tags in curves.items()
    }


def finetune_results(root: str) -> dict | None:
    """`finetune/<model>/report.json` of each fine-tuned model."""
    pattern = filesystems.join(
        filesystems.escape_glob(filesystems.join(root, "finetune")), "*", "report.json"
    )
    results = {}
    for path in filesystems.list_files(pattern):
        report = filesystems.read_json(path)
        model = os.path.basename(os.path.dirname(path))
        results[model] = {
            k: report.get(k)
            for k in (
                "test_accuracy",
                "majority_baseline",
                "test_accuracy_per_label",
                "examples",
                "labels",
                "train_loss_per_epoch",
                "dev_accuracy_per_epoch",
                "encoder",
            )
        }
    return results or None


def evaluation_results(root: str) -> dict | None:
    """`evaluate/results.json`: KorPatELECTRA's table, one row per evaluated model."""
    path = filesystems.join(root, "evaluate", "results.json")
    return filesystems.read_json(path) if filesystems.exists(path) else None


def collect(root: str, examples: int = DEFAULT_EXAMPLES) -> dict[str, Any]:
    """Every figure of the report, as JSON-able data."""
    manifests = read_manifests(root)
    return {
        "output_root": root,
        "korpatbert_source": KORPATBERT_SOURCE,
        "stages": {
            stage: None
            if m is None
            else {k: m.get(k) for k in ("finished_at", "seconds", "runner", "versions", "fingerprint", "job")}
            for stage, m in manifests.items()
        },
        "korpatbert": KORPATBERT,
        "corpus": corpus_figures(root, manifests),
        "drops": drops(manifests),
        "nouns": noun_figures(root, manifests[layout.NOUNS]),
        "dictionary": dictionary_figures(manifests[layout.DICTIONARY]),
        "vocab": vocab_figures(manifests[layout.VOCAB]),
        "tfrecords": tfrecord_figures(root, manifests[layout.TFRECORDS], examples),
        "training": training_curves(root),
        "finetune": finetune_results(root),
        "evaluate": evaluation_results(root),
    }


def write_report(root: str, out: str | None = None, examples: int = DEFAULT_EXAMPLES) -> str:
    """Collect, render and write `index.html` and `report.json`; returns the HTML path."""
    out = out or filesystems.join(root, REPORT_DIR)
    data = collect(root, examples)
    filesystems.write_json(filesystems.join(out, "report.json"), data)
    path = filesystems.join(out, "index.html")
    filesystems.write_bytes(path, report_page.render(data).encode("utf-8"))
    return path


def after_run(config) -> int:
    """The end of `run`: write the report; a failure is a warning, never the run's failure."""
    from pipeline.config import resolve_path

    try:
        path = write_report(resolve_path(config, config.output_root))
    except Exception as e:  # the stages' outputs stand without the report
        log.warning("the run report was not written: %s", e, exc_info=True)
        print(f"warning: the run report was not written: {e}", file=sys.stderr)
        return 0
    print(f"[report] {path}")
    return 0


def command(config, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline report [--root DIR] [--out DIR] [--examples N]`."""
    from pipeline.config import resolve_path

    root = args.root or (resolve_path(config, config.output_root) if config is not None else None)
    if root is None:
        print("error: no output root: give --root DIR or a loadable --config", file=sys.stderr)
        return 2
    if not filesystems.tree_exists(root):
        print(f"error: output root not found: {root}", file=sys.stderr)
        return 2
    path = write_report(root, args.out, args.examples)
    print(f"[report] {path}")
    return 0
