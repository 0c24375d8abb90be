"""Stage `vocab`: morpheme-split sentences -> KorPatBERT and KorPatELECTRA vocabularies.

In:  `<output_root>/morph/sentences/part-*.parquet` (morphemes, word_starts and
     the sentence's position: doc_id, paragraph_index, sentence_index) and the
     dictionary stage's `user.csv` (for the report).
Out: `bert/spm.model`, `bert/spm.vocab` (SentencePiece, BPE by default) and
     `bert/vocab.txt`, the same pieces in WordPiece form as KorPatBERT's
     korpat_vocab.txt (`<unk> <s> </s> [PAD] [UNK] [CLS] [SEP] [MASK]` first,
     `▁x` -> `x`, `x` -> `##x`); `electra/vocab.txt` (tensorflow-text's
     WordPiece learner, `[PAD] [UNK] [CLS] [SEP] [MASK]` first);
     `report.json` / `report.md` (both flavours side by side, measured with
     pipeline.text.tokenizer on held-out sentences), also in the manifest under
     "report". Intermediate: `sample/train-*.txt` (the training sample, one
     basic-split sentence per line), `sample/eval-*.jsonl` (held-out
     sentences), `electra/word_counts-*.tsv` (word counts of the sample).

Sampling (Beam, `AssignBand`) and training (`train_vocabularies`, one Beam
step on one worker once the samples are written; the manifest's report comes
from its report.json) run the rules of `pipeline/pretraining/vocab_learning.py` (see there); the
report is `pipeline/pretraining/vocab_report.py`'s.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import threading
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import VocabConfig
from pipeline.io import filesystems
from pipeline.pretraining.vocab_learning import (
    SAMPLE_VERSION,
    SPM_EXPORT_VERSION,
    WORDPIECE_VERSION,
    alphabet_size,
    learn_wordpiece,
    sample_band,
    sample_position,
    sentencepiece_pieces,
    sentencepiece_to_wordpiece,
    split_long,
    train_sentencepiece,
    training_words,
)
from pipeline.pretraining.vocab_report import REPORT_VERSION, flavour_report, report_markdown
from pipeline.run.stage import Stage, StageContext
from pipeline.text.mecab_dictionary import split_csv_line
from pipeline.text.tokenizer import Tokenizer

log = logging.getLogger(__name__)

NAME = "vocab"
SAMPLE_COLUMNS = ["doc_id", "paragraph_index", "sentence_index", "morphemes", "word_starts"]

# ------------------------------------------------------------------ sampling


class AssignBand(beam.DoFn):
    """Morph rows -> main output 'train' lines, tagged output 'eval' rows (JSON)."""

    def __init__(self, config: VocabConfig) -> None:
        self._config = config

    def process(self, row, total):
        c = self._config
        Metrics.counter(NAME, "sentences_read").inc()
        u = sample_position(c.seed, row["doc_id"], row["paragraph_index"], row["sentence_index"])
        band = sample_band(u, total, c.eval_sentences, c.sample_sentences)
        if band is None:
            Metrics.counter(NAME, "sentences_unsampled").inc()
            return
        Metrics.counter(NAME, f"sentences_{band}").inc()
        if band == "eval":
            record = {"morphemes": row["morphemes"], "word_starts": row["word_starts"]}
            yield beam.pvalue.TaggedOutput("eval", json.dumps(record, ensure_ascii=False, sort_keys=True))
            return
        lines, dropped = split_long(training_words(row["morphemes"]), c.max_sentence_bytes)
        if dropped:
            Metrics.counter(NAME, "long_words_dropped").inc(dropped)
        if len(lines) > 1:
            Metrics.counter(NAME, "long_sentences_split").inc()
            Metrics.counter(NAME, "long_sentence_lines").inc(len(lines))
        yield from lines


def words_of_line(line: str) -> list[str]:
    return line.split(" ")


def format_count(item: tuple[str, int]) -> str:
    return f"{item[0]}\t{item[1]}"


class SampleSentences(beam.PTransform):
    """Morph rows -> {'train': basic-split lines, 'eval': JSON rows, 'counts': 'word<TAB>count'}."""

    def __init__(self, config: VocabConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, rows):
        total = rows | "Total" >> beam.combiners.Count.Globally()
        banded = rows | "Band" >> beam.ParDo(
            AssignBand(self._config), beam.pvalue.AsSingleton(total)
        ).with_outputs("eval", main="train")
        counts = (
            banded.train
            | "Words" >> beam.FlatMap(words_of_line)
            | "Count" >> beam.combiners.Count.PerElement()
            | "Format" >> beam.Map(format_count)
        )
        return {"train": banded.train, "eval": banded.eval, "counts": counts}


# ------------------------------------------------------------------ finalize


def read_lines(pattern: str) -> list[str]:
    out = []
    for path in filesystems.list_files(pattern):
        out += [line for line in filesystems.read_bytes(path).decode("utf-8").split("\n") if line]
    return out


def read_word_counts(pattern: str) -> list[tuple[str, int]]:
    counts = []
    for line in read_lines(pattern):
        word, count = line.rsplit("\t", 1)
        counts.append((word, int(count)))
    return counts


def read_nouns(user_csv: str) -> list[str]:
    if not filesystems.exists(user_csv):
        return []
    return [split_csv_line(line)[0] for _, line in filesystems.numbered_lines(user_csv) if line]


def write_lines(path: str, lines: Sequence[str]) -> None:
    filesystems.write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _train_bert(sentences: list[str], c: VocabConfig, read: threading.Event) -> tuple[bytes, int]:
    try:
        with filesystems.Progress.step(
            NAME, f"training SentencePiece on {len(sentences):,} sentences (BERT)"
        ):
            return train_sentencepiece(
                sentences,
                c.bert_vocab_size,
                model_type=c.model_type,
                character_coverage=c.character_coverage,
                max_sentence_bytes=c.max_sentence_bytes,
                num_threads=c.spm_num_threads,
                on_read=read.set,
            )
    finally:
        read.set()  # failed before reading everything: the other learner must not wait


def train_vocabularies(c: VocabConfig, out: str, user_csv: str) -> dict:
    """The central step: the samples in `out` -> vocab files and the report
    (report.json, report.md); returns the report. `user_csv`: the dictionary
    stage's, whose nouns the report checks."""
    import tempfile

    # Sorted, so the training input does not depend on how Beam sharded it.
    sentences = sorted(read_lines(filesystems.join(out, "sample", "train-*")))
    if not sentences:
        raise RuntimeError("vocab: the training sample is empty (no morph sentences?)")

    train_sentences = len(sentences)
    # The two learners are independent: SentencePiece trains in a thread (its C++
    # trainer releases the GIL) while tensorflow-text's WordPiece learner, pure
    # Python, runs here, so the step takes the longer of the two, not their sum.
    # WordPiece starts once SentencePiece has read the sentences: it reads each
    # through Python, and beside a busy Python thread that alone took minutes.
    read = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentencepiece") as pool:
        bert = pool.submit(_train_bert, sentences, c, read)
        del sentences  # the thread holds them until SentencePiece has read them
        read.wait()
        counts = read_word_counts(filesystems.join(out, "electra", "word_counts-*"))
        with filesystems.Progress.step(NAME, f"learning WordPiece from {len(counts):,} words (ELECTRA)"):
            processes = c.wordpiece_processes or min(os.cpu_count() or 1, 3)
            electra_vocab = learn_wordpiece(counts, c.electra_vocab_size, c, processes)
        model, bert_size = bert.result()
    pieces = sentencepiece_pieces(model)
    filesystems.write_bytes(filesystems.join(out, "bert", "spm.model"), model)
    write_lines(filesystems.join(out, "bert", "spm.vocab"), [f"{p}\t{s:g}" for p, s in pieces])
    bert_vocab = sentencepiece_to_wordpiece([p for p, _ in pieces])
    write_lines(filesystems.join(out, "bert", "vocab.txt"), bert_vocab)
    write_lines(filesystems.join(out, "electra", "vocab.txt"), electra_vocab)

    for flavour, requested, actual in (
        ("bert", c.bert_vocab_size, bert_size),
        ("electra", c.electra_vocab_size, len(electra_vocab)),
    ):
        if actual < requested * (1 - c.wordpiece_slack_ratio):
            log.warning(
                "vocab: %s vocabulary has %d entries, %d requested: the sample supports no more",
                flavour,
                actual,
                requested,
            )

    eval_rows = [json.loads(line) for line in sorted(read_lines(filesystems.join(out, "sample", "eval-*")))]
    seen_words = {word for word, _ in counts}
    nouns = sorted(set(read_nouns(user_csv)))
    flavours = {}
    with tempfile.TemporaryDirectory(prefix="vocab_report_", dir=filesystems.scratch_root()) as tmp:
        for flavour, lines in (("bert", bert_vocab), ("electra", electra_vocab)):
            path = f"{tmp}/{flavour}.txt"
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            tokenizer = Tokenizer(path, mode="fast", pretokenized=True)
            flavours[flavour] = flavour_report(tokenizer, eval_rows, nouns, seen_words)
    report = {
        "requested": {"bert": c.bert_vocab_size, "electra": c.electra_vocab_size},
        "actual": {"bert_spm_pieces": bert_size, "bert": len(bert_vocab), "electra": len(electra_vocab)},
        "capped": {
            "bert": bert_size < c.bert_vocab_size,
            "electra": len(electra_vocab) < c.electra_vocab_size,
        },
        "train_sentences": train_sentences,
        "train_words_distinct": len(counts),
        "wordpiece_alphabet": alphabet_size(counts, c.character_coverage),
        "flavours": flavours,
    }
    filesystems.write_json(filesystems.join(out, "report.json"), report)
    filesystems.write_bytes(filesystems.join(out, "report.md"), report_markdown(report).encode("utf-8"))
    return report


class TrainVocabularies(beam.DoFn):
    """The one element that says the samples are written -> both vocabularies and
    the report, on one worker (SentencePiece holds the whole sample)."""

    def __init__(self, config: VocabConfig, output_dir: str, user_csv: str) -> None:
        self._config, self._output_dir, self._user_csv = config, output_dir, user_csv

    def process(self, _):
        report = train_vocabularies(self._config, self._output_dir, self._user_csv)
        yield report["actual"]


def finalize(ctx: StageContext) -> dict:
    """The report the training step wrote, for the manifest (without the longest pieces)."""
    report = filesystems.read_json(filesystems.join(ctx.output_dir, "report.json"))
    summary = {k: v for k, v in report.items() if k != "flavours"}
    summary["flavours"] = {
        name: {k: v for k, v in f.items() if k != "longest_pieces"} for name, f in report["flavours"].items()
    }
    return summary


# ------------------------------------------------------------------ stage


class WriteVocabSamples(beam.PTransform):
    """Morph sentence shards -> sample/train-*.txt, sample/eval-*.jsonl, electra/word_counts-*.tsv."""

    def __init__(self, sentences_glob: str, config: VocabConfig, output_dir: str, after=None) -> None:
        super().__init__()
        self._glob, self._config, self._output_dir = sentences_glob, config, output_dir
        self._after = after  # morph's completion element when fused into its job

    def expand(self, pipeline):
        out = self._output_dir
        samples = filesystems.read_parquet(
            pipeline, self._glob, SAMPLE_COLUMNS, self._after
        ) | "Sample" >> SampleSentences(self._config)
        # One sorted file each: the sample is central-sized by design (the
        # finalize step trains on all of it in one process), and sorting makes
        # the files byte-identical whatever the runner or worker count.
        train = samples["train"] | "WriteTrain" >> filesystems.WriteSortedLines(
            filesystems.join(out, "sample", "train-00000-of-00001.txt")
        )
        held_out = samples["eval"] | "WriteEval" >> filesystems.WriteSortedLines(
            filesystems.join(out, "sample", "eval-00000-of-00001.jsonl")
        )
        counts = samples["counts"] | "WriteCounts" >> filesystems.WriteSortedLines(
            filesystems.join(out, "electra", "word_counts-00000-of-00001.tsv")
        )
        return train, held_out, counts


class LearnVocabularies(beam.PTransform):
    """Morph sentence shards -> the samples (WriteVocabSamples), then, once they are
    written, both vocabularies and the report (TrainVocabularies, one worker)."""

    def __init__(self, sentences_glob: str, config: VocabConfig, output_dir: str, user_csv: str, after=None):
        super().__init__()
        self._glob, self._config, self._output_dir = sentences_glob, config, output_dir
        self._user_csv, self._after = user_csv, after

    def expand(self, pipeline):
        written = (
            pipeline
            | "Samples" >> WriteVocabSamples(self._glob, self._config, self._output_dir, self._after)
            | "Written" >> beam.Flatten()
            | "AllWritten" >> beam.combiners.Count.Globally()
        )
        train = beam.ParDo(TrainVocabularies(self._config, self._output_dir, self._user_csv))
        # The step holds the whole sample (9.5 GB measured at 5M sentences): with Dataflow
        # Prime's right fitting only this step gets the large machine.
        if self._config.training_min_ram:
            train = train.with_resource_hints(min_ram=self._config.training_min_ram)
        return written | "Train" >> train


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    glob = filesystems.join(ctx.upstream_dirs["morph"], "sentences", "part-*.parquet")
    user_csv = filesystems.join(ctx.upstream_dirs[layout.DICTIONARY], layout.USER_CSV)
    return p | "Vocab" >> LearnVocabularies(
        glob, ctx.config.vocab, ctx.output_dir, user_csv, ctx.after("morph")
    )


STAGE = Stage(
    name=NAME,
    upstream=("morph", "dictionary"),
    versions={
        "sample": SAMPLE_VERSION,
        "spm_export": SPM_EXPORT_VERSION,
        "wordpiece": WORDPIECE_VERSION,
        "report": REPORT_VERSION,
    },
    build=build,
    description="morphemes -> SentencePiece (BERT) and WordPiece (ELECTRA) vocabularies + report",
    accounting=(
        "sentences_read",
        "sentences_train",
        "sentences_eval",
        "sentences_unsampled",
        "long_sentences_split",
        "long_sentence_lines",
        "long_words_dropped",
    ),
    finalize=finalize,
    fusable=True,
)
