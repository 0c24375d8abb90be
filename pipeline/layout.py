"""The contracts between stages: where each stage writes what, and in which schema.

A stage never imports another stage. What one stage writes and the next reads
(folder and file names, Parquet schemas, shard naming, the model export
folders) is defined here once, so writer and reader cannot drift apart.
Upstream *facts* that depend on a run (shard counts, the layout of the text)
come from the upstream manifest through `StageContext.upstream_setting`.
"""

from __future__ import annotations

import dataclasses
import os
import re

from apache_beam.io.filesystems import FileSystems

from pipeline import package_data

# The checkout (or, installed, the folder holding the package): the tools that
# need the repository's data (the demo corpus) look there.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The committed schemas of the TFRecord outputs (`tfrecords_schema/<output>/schema.pbtxt`),
# from the checkout or from the installed package's data.
SCHEMA_DIR = os.path.join(package_data.data_root(), "tfrecords_schema")

# Written last by every stage: a folder without it is an unfinished run.
MANIFEST = "manifest.json"

INGEST, CLEAN, NOUNS, DICTIONARY, MORPH, VOCAB, TFRECORDS, TRAIN = (
    "ingest",
    "clean",
    "nouns",
    "dictionary",
    "morph",
    "vocab",
    "tfrecords",
    "train",
)


def stage_dir(config, name: str) -> str:
    """`<output_root>/<stage>/` of a loaded `PipelineConfig`."""
    from pipeline.config import resolve_path

    return FileSystems.join(resolve_path(config, config.output_root), name)


# ------------------------------------------------------------------ sharded Parquet tables

SHARD_NAME = re.compile(r"part-(\d+)-of-(\d+)\.parquet$")


def parquet_shard(metadata) -> tuple[int, str]:
    """A matched `part-NNNNN-of-MMMMM.parquet` file -> (shard index, path)."""
    match = SHARD_NAME.search(metadata.path)
    if not match:
        raise ValueError(f"not a Parquet shard: {metadata.path}")
    return int(match.group(1)), metadata.path


# ingest: `paragraphs/part-*.parquet`, `rejects/part-*.jsonl`
PARAGRAPHS = "paragraphs"
REJECTS = "rejects"


def paragraph_schema():
    """ingest's paragraph table (one row per paragraph, rows of a document adjacent)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("source", pa.string()),
            ("cpc_section", pa.string()),
            ("paragraph_index", pa.int32()),
            ("section", pa.string()),
            ("text", pa.string()),
        ]
    )


# clean and morph: `text/part-*.txt` (Google BERT's layout), `sentences/part-*.parquet`
TEXT = "text"
SENTENCES = "sentences"


def sentence_schema():
    """clean's sentence table (one row per sentence)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("cpc_section", pa.string()),
            ("paragraph_index", pa.int32()),
            ("section", pa.string()),
            ("sentence_index", pa.int32()),
            ("text", pa.string()),
        ]
    )


def morph_schema():
    """Clean's sentence table with `text` replaced by `morphemes` and `word_starts`."""
    import pyarrow as pa

    fields = [f for f in sentence_schema() if f.name != "text"]
    return pa.schema([*fields, ("morphemes", pa.string()), ("word_starts", pa.string())])


# nouns
NOUNS_PARQUET = "nouns.parquet"
NOUNS_TSV = "nouns.tsv"

# dictionary
USER_CSV = "user.csv"
USER_DIC = "user.dic"


# vocab: `<flavour>/vocab.txt`
def vocab_file(vocab_dir: str, flavour: str) -> str:
    return FileSystems.join(vocab_dir, flavour, "vocab.txt")


def pretraining_vocabs(config, tfrecords_section, vocab_dir: str) -> dict[str, str]:
    """flavour -> the vocab file the tfrecords stage tokenises with: the file named by
    `tfrecords.bert_vocab` / `electra_vocab` when set, else the vocab stage's."""
    from pipeline.config import resolve_path

    paths = {}
    for flavour in ("bert", "electra"):
        configured = getattr(tfrecords_section, f"{flavour}_vocab")
        paths[flavour] = resolve_path(config, configured) if configured else vocab_file(vocab_dir, flavour)
    return paths


# tfrecords: `<output>/Split-{train,eval}/part-*.tfrecord[.gz]`, `<output>/schema.pbtxt`
SPLITS = ("train", "eval")
DEFAULT_MAX_PREDICTIONS = {128: 20, 512: 76}


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """One TFRecord output of the tfrecords stage, named `<flavour>-<seq_length>`."""

    name: str  # bert-128
    flavour: str  # bert | electra
    seq_length: int
    max_predictions: int  # 0 for electra


def output_specs(config) -> list[OutputSpec]:
    """The outputs a `TfrecordsConfig` asks for."""
    specs = []
    for name in config.outputs:
        flavour, _, length = name.partition("-")
        seq_length = int(length)
        predictions = 0
        if flavour == "bert":
            predictions = config.max_predictions_per_seq or DEFAULT_MAX_PREDICTIONS.get(
                seq_length, int(round(seq_length * config.masked_lm_prob))
            )
        specs.append(OutputSpec(name, flavour, seq_length, predictions))
    return specs


# train: `export/<phase>/<timestamp>/` (written by TFX's Pusher)
EXPORT = "export"


def newest_export(export_dir: str) -> str | None:
    """The newest `<export_dir>/<timestamp>/` Pusher wrote (None if none)."""
    from pipeline.io import filesystems

    if not filesystems.tree_exists(export_dir):
        return None
    folders = set()
    for m in FileSystems.match([filesystems.join(export_dir, "*", "config.json")])[0].metadata_list:
        folders.add(m.path.rsplit("/", 2)[-2])
    numeric = sorted((f for f in folders if f.isdigit()), key=int)
    return filesystems.join(export_dir, numeric[-1]) if numeric else None


def export_for(config, model_type: str) -> str:
    """The newest export of the last train phase of `model_type` (what finetune loads)."""
    phases = [p.output for p in config.train.phases if p.output.startswith(model_type + "-")]
    if not phases:
        raise RuntimeError(f"train.phases has no {model_type} phase to fine-tune")
    found = newest_export(FileSystems.join(stage_dir(config, TRAIN), EXPORT, phases[-1]))
    if found is None:
        raise RuntimeError(f"no trained {phases[-1]} model yet: run `python -m pipeline train` first")
    return found
