"""Stage `tfrecords`: morphemes -> BERT (MLM + NSP) and ELECTRA pretraining TFRecords.

In:  `<output_root>/morph/sentences/part-*.parquet` (doc_id, paragraph_index,
     sentence_index, morphemes, word_starts) and the vocab stage's
     `vocab/bert/vocab.txt` and `vocab/electra/vocab.txt` (or the files named
     in the config).
Out: one folder per output, e.g. `bert-128/`, `electra-128/`, each with
     `Split-train/` and `Split-eval/` folders of `part-NNNNN-of-NNNNN.tfrecord[.gz]`
     files (TFX's Examples layout), a `schema.pbtxt` copied from
     `tfrecords_schema/<output>/`, and `counts.json`.

The instances follow Google's `create_pretraining_data.py`
(`pipeline/pretraining/bert_instances.py`) and google-research/electra's
packing (`pipeline/pretraining/electra_packing.py`); this module runs them
over the corpus, a bucket at a time, and writes the shards.

Memory and determinism: documents are grouped into `num_buckets` buckets by a
stable hash of the publication id; instances are built per bucket with a
`random.Random(seed_for(seed, split, bucket))`, and random next sentences are
drawn from the same bucket. Each instance gets a sort key from the same
generator; instances are dealt round-robin to shards (bucket by bucket, in
bucket order), so shard sizes differ by at most one example, and each shard is
written sorted by sort key: a global shuffle that is byte-identical whatever the
runner or the number of workers. Sentences reach their bucket, and examples
their shard, through scratch files (`pipeline/io/file_shuffle.py`), not a Beam
shuffle, which the DirectRunner would hold whole in its own process: a task
holds one morph shard's tokens (SPILL_SENTENCES at a time), one bucket, or
the read buffers of one shard's merge (MERGE_BUFFER_BYTES). With
`runner.exchange: beam` (the default on Dataflow) the same blocks go through
Beam's GroupByKey instead (the Dataflow Shuffle service), with the same output.

Speed: the per-instance work is kept off per-token Python. Sentences leave
`TokenizeSentences` as token bytes joined from per-morpheme bytes
(`PieceCache.encode_bytes`), and are split once per bucket into (ids, start
bytes) by two numpy calls (`group_sentences`). Examples are written as
protobuf wire bytes by `pipeline/pretraining/example_writer.py`, and the
TFRecord files framed and gzipped there too, without TensorFlow: those bytes
are the ones the tf.train.Example and tf.io.TFRecordWriter path writes
(tests/pretraining/test_example_writer.py checks them).
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import logging
import os
import random
from collections.abc import Iterable, Iterator
from itertools import chain

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import TfrecordsConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.layout import SPLITS, OutputSpec, output_specs
from pipeline.pretraining.bert_instances import (
    BERT_VERSION,
    NSP_RULES,
    NspCounts,
    bert_bucket_instances,
    bert_params,
)
from pipeline.pretraining.bucketing import bucket_of, seed_for, split_of
from pipeline.pretraining.electra_packing import ELECTRA_VERSION, electra_bucket_examples
from pipeline.pretraining.example_writer import BertExampleWriter, example_bytes, write_tfrecord_file
from pipeline.pretraining.features import dynamic_bert_features, electra_features, feature_spec
from pipeline.pretraining.sentence_encoding import PieceCache, document_key, group_documents, group_sentences
from pipeline.run.stage import Stage, StageContext
from pipeline.text.tokenizer import Tokenizer, vocab_size

NAME = "tfrecords"
SHARDING_VERSION = "bucket_roundrobin_v1"
SCRATCH = "_scratch"  # exchange files while the stage runs; deleted by finalize
# The label-1 (random next) share a BERT output should have; outside it finalize warns.
NSP_SHARE_RANGE = (0.45, 0.55)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def cyclic_gc_paused():
    """Python's cyclic GC off for the block (back to its former state after).

    Building a bucket allocates ~10 container objects per instance and makes
    no reference cycles, so reference counting frees all of it; but every
    generation-2 collection those allocations trigger walks every object the
    worker holds (the runner's buffered elements too): a fifth of the build's
    CPU time at dupe_factor 10.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scratch_dir(output_dir: str, spec_name: str) -> str:
    """Where one output's exchange files live while the stage runs (see pipeline/io/file_shuffle.py)."""
    return filesystems.join(output_dir, SCRATCH, spec_name)


def nsp_counts_file(output_dir: str, spec_name: str, split: str, bucket: int) -> str:
    """A bucket's NSP label counts (JSON), read by finalize; the same name on a retry."""
    return filesystems.join(scratch_dir(output_dir, spec_name), "nsp", f"{split}-{bucket:05d}.json")


class TokenizeSentences(beam.DoFn):
    """Morph shard path -> ((split, bucket), BlockRef) for each bucket its sentences reach.

    A block holds [(doc key, paragraph, sentence, token bytes), ...] of one
    (split, bucket) in shard order; `group_sentences` sorts them, so the order
    in which a bucket's blocks are read changes nothing downstream. A new
    scratch file starts every SPILL_SENTENCES sentences.
    """

    def __init__(
        self,
        vocab_path: str,
        config: TfrecordsConfig,
        whole_word: bool,
        scratch: str,
        exchange: str = file_shuffle.FILES,
    ) -> None:
        self._vocab_path, self._config, self._whole_word = vocab_path, config, whole_word
        self._exchange = file_shuffle.Exchange(exchange, scratch)

    def setup(self):
        self._pieces = None
        if filesystems.exists(self._vocab_path):  # see start_bundle
            self._load_vocab()

    def start_bundle(self):
        # Fused into one job behind the vocab stage (`runner.jobs: fused`), the
        # vocabulary exists only once the elements that lead here have come, and a
        # runner may set a DoFn up sooner.
        if self._pieces is None:
            self._load_vocab()

    def _load_vocab(self):
        local = os.path.join(filesystems.scratch_folder("vocab_"), "vocab.txt")
        with open(local, "wb") as f:
            f.write(filesystems.read_bytes(self._vocab_path))
        self._pieces = PieceCache(Tokenizer(local, pretokenized=True, mode="fast"))

    def take_sentences(self, rows: Iterator[dict], limit: int) -> tuple[dict, int, int]:
        """Up to `limit` non-empty sentences from `rows` -> ({(split, bucket): [sentence, ...]},
        rows read, empty rows)."""
        c = self._config
        encode, whole_word = self._pieces.encode_bytes, self._whole_word
        partitions: dict[tuple[str, int], list] = {}
        doc_id = partition = None
        n_in = n_empty = held = 0
        for row in rows:
            n_in += 1
            tokens = encode(row["morphemes"], row["word_starts"], whole_word)
            if not tokens:
                n_empty += 1
                continue
            if row["doc_id"] != doc_id:  # a document's rows mostly come together: hash once
                doc_id = row["doc_id"]
                key = (split_of(doc_id, c.eval_percent), bucket_of(doc_id, c.num_buckets))
                partition = partitions.setdefault(key, [])
            partition.append(
                (document_key(row, c.document), row["paragraph_index"], row["sentence_index"], tokens)
            )
            held += 1
            if held >= limit:
                break
        return partitions, n_in, n_empty

    def process(self, path):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        columns = ["doc_id", "paragraph_index", "sentence_index", "morphemes", "word_starts"]
        rows = iter(filesystems.iter_parquet_rows(path, columns=columns))
        progress = filesystems.Progress(NAME, "sentences")
        segment = 0
        while True:
            with cyclic_gc_paused():  # a tuple per sentence
                partitions, n_in, n_empty = self.take_sentences(rows, SPILL_SENTENCES)
                blocks = {key: file_shuffle.dump(sentences) for key, sentences in partitions.items()}
                del partitions
            progress.tick(n_in)  # a counter update per row cost more than tokenizing
            Metrics.counter(NAME, "sentences_in").inc(n_in)
            Metrics.counter(NAME, "sentences_empty").inc(n_empty)
            if blocks:
                yield from self._exchange.send(f"tokens-{name}-{segment:05d}", blocks).items()
            del blocks
            if not n_in:
                return
            segment += 1


# Sentences a tokenising task holds before it writes them out as one more
# scratch file (~100 bytes each), so its memory does not grow with its shard.
SPILL_SENTENCES = 500_000


class DynamicExampleWriter:
    """An `UnmaskedInstance` -> its serialized tf.train.Example (`features.dynamic_bert_features`)."""

    def __init__(self, seq_length: int, v2_names: bool) -> None:
        self._seq_length, self._v2_names = seq_length, v2_names

    def __call__(self, instance) -> bytes:
        return example_bytes(
            dynamic_bert_features(
                instance.input_ids,
                instance.segment_ids,
                instance.starts,
                instance.is_random_next,
                self._seq_length,
                self._v2_names,
            )
        )


class BuildExamples(beam.DoFn):
    """((split, bucket), its sentence Blocks) -> ((split, bucket), examples made, {piece: Block}).

    The bucket's examples are dealt into `num_shards[split]` pieces, example j
    to piece j % shards, each piece a block of framed (sort key, j, serialized
    example) records in sort order; `deal_pieces` sends each piece to the
    shard that the bucket's offset in its split gives it.
    """

    def __init__(
        self,
        spec: OutputSpec,
        vocab_path: str,
        config: TfrecordsConfig,
        num_shards: dict,
        scratch: str,
        output_dir: str = "",
        exchange: str = file_shuffle.FILES,
    ) -> None:
        self._spec, self._vocab_path, self._config = spec, vocab_path, config
        self._num_shards, self._output_dir = num_shards, output_dir
        self._exchange = file_shuffle.Exchange(exchange, scratch)

    def setup(self):
        self._params = None
        if filesystems.exists(self._vocab_path):  # see TokenizeSentences.start_bundle
            self._load_vocab()

    def start_bundle(self):
        if self._params is None:
            self._load_vocab()

    def _load_vocab(self):
        from pipeline.text.tokenizer import parse_vocab

        # Through FileSystems: the vocab may be on gs://.
        vocab = parse_vocab(filesystems.read_bytes(self._vocab_path).decode("utf-8"))
        spec, c = self._spec, self._config
        self._cls, self._sep = vocab["[CLS]"], vocab["[SEP]"]
        self._params = bert_params(vocab, spec.seq_length, spec.max_predictions, c)
        if c.masking == "dynamic":
            self._write = DynamicExampleWriter(spec.seq_length, c.v2_feature_names)
        else:
            names = feature_spec("bert", spec.seq_length, spec.max_predictions, c.v2_feature_names)
            self._write = BertExampleWriter(spec.seq_length, spec.max_predictions, list(names))

    def examples(self, split: str, bucket: int, sentences: Iterable[tuple]) -> list[tuple[int, bytes]]:
        """A bucket's sentences -> [(sort key, serialized example), ...] in the order made."""
        spec, c = self._spec, self._config
        rng = random.Random(seed_for(c.seed, spec.name, split, bucket))
        with cyclic_gc_paused():
            if spec.flavour == "bert":
                documents = group_sentences(sentences)
                dropped = Metrics.counter(NAME, "instances_dropped_empty_segment").inc
                nsp = NspCounts(balanced=c.nsp_rule == "balanced")
                dynamic = c.masking == "dynamic"
                made = bert_bucket_instances(
                    documents,
                    self._params,
                    1 if dynamic else c.dupe_factor,  # dynamic: new masks each epoch instead of copies
                    rng,
                    self._write,
                    dropped,
                    nsp,
                    masked=not dynamic,
                )
                Metrics.counter(NAME, f"{spec.name}_{split}_random_next").inc(nsp.random_next)
                if self._output_dir:
                    path = nsp_counts_file(self._output_dir, spec.name, split, bucket)
                    filesystems.write_json(path, nsp.as_dict())
            else:
                documents = group_documents(sentences)
                made = [
                    example_bytes(
                        electra_features(a, b, spec.seq_length, self._cls, self._sep, c.v2_feature_names)
                    )
                    for a, b in electra_bucket_examples(
                        [[[t >> 1 for t in s] for s in d] for d in documents], spec.seq_length, rng
                    )
                ]
            del documents
            return [(rng.getrandbits(64), data) for data in made]

    def process(self, element):
        key, refs = element
        split, bucket = key
        made = self.examples(split, bucket, chain.from_iterable(file_shuffle.load_blocks(refs)))
        count = len(made)
        Metrics.counter(NAME, f"{self._spec.name}_{split}_examples").inc(count)
        shards = self._num_shards[split]
        with cyclic_gc_paused():
            blocks = {
                piece: file_shuffle.frame_records(
                    sorted((made[j][0], j, made[j][1]) for j in range(piece, count, shards))
                )
                for piece in range(min(shards, count))
            }
        del made
        yield key, count, self._exchange.send(f"examples-{split}-{bucket:05d}", blocks)


def bucket_offsets(counts: dict) -> dict:
    """{(split, bucket): count} -> {(split, bucket): examples dealt before it in its split}."""
    offsets, totals = {}, {}
    for key in sorted(counts):
        split = key[0]
        offsets[key] = totals.get(split, 0)
        totals[split] = offsets[key] + counts[key]
    return offsets


def deal_pieces(built: tuple, offsets: dict, num_shards: dict) -> list[tuple]:
    """A bucket's pieces -> [((split, shard), (bucket, Block)), ...]: example k of a split,
    counted bucket by bucket in bucket order, goes to shard k % shards, so piece r
    (the bucket's examples r, r + shards, ...) goes to shard (offset + r) % shards."""
    key, _, pieces = built
    split, bucket = key
    shards = num_shards[split]
    return [
        ((split, (offsets[key] + piece) % shards), (bucket, ref)) for piece, ref in sorted(pieces.items())
    ]


class DealPieces(beam.DoFn):
    def __init__(self, num_shards: dict) -> None:
        self._num_shards = num_shards
        self._counts = self._offsets = None

    def process(self, built, counts):
        if counts is not self._counts:  # the side input, once per bundle
            self._counts, self._offsets = counts, bucket_offsets(counts)
        yield from deal_pieces(built, self._offsets, self._num_shards)


def file_path(metadata) -> str:
    return metadata.path


def shard_file(output_dir: str, spec_name: str, split: str, index: int, num_shards: int, gzip: bool) -> str:
    folder = filesystems.join(output_dir, spec_name, f"Split-{split}")
    return filesystems.shard_path(folder, "part", index, num_shards, ".tfrecord.gz" if gzip else ".tfrecord")


# Read buffer of one shard writer, shared by the pieces it merges (one per bucket).
MERGE_BUFFER_BYTES = 64 << 20


def _tagged(bucket: int, frames: Iterable[tuple[int, int, bytes]]) -> Iterable[tuple]:
    for sort_key, index, data in frames:
        yield sort_key, bucket, index, data


def piece_bucket(piece: tuple[int, file_shuffle.Block]) -> int:
    return piece[0]


def shard_examples(pieces: Iterable[tuple[int, file_shuffle.Block]]) -> Iterable[tuple]:
    """A shard's pieces, (bucket, Block) -> its examples as (sort key, bucket, index, data)
    in sort order. Streams: each piece is read in chunks and the pieces merged, so
    memory does not grow with the shard."""
    # A bucket sends a shard at most one piece, so the bucket orders them.
    pieces = sorted(pieces, key=piece_bucket)
    chunk = min(1 << 20, max(16 << 10, MERGE_BUFFER_BYTES // max(1, len(pieces))))
    return heapq.merge(*(_tagged(bucket, file_shuffle.iter_frames(ref, chunk)) for bucket, ref in pieces))


class WriteShard(beam.DoFn):
    """((split, shard), {"pieces": [(bucket, Block), ...]}) -> one TFRecord file, examples
    sorted by sort key."""

    def __init__(self, output_dir: str, spec: OutputSpec, num_shards: dict, gzip: bool) -> None:
        self._output_dir, self._spec, self._num_shards, self._gzip = output_dir, spec, num_shards, gzip

    def process(self, element):
        (split, index), grouped = element
        examples = shard_examples(grouped.get("pieces", []))
        path = shard_file(
            self._output_dir, self._spec.name, split, index, self._num_shards[split], self._gzip
        )
        # The bytes tf.io.TFRecordWriter writes, without importing TensorFlow.
        yield split, write_tfrecord_file(path, (data for _, _, _, data in examples), self._gzip)


def built_count(built: tuple) -> tuple:
    key, count, _ = built
    return key, count


class BuildPretrainingRecords(beam.PTransform):
    """Morph sentence shards -> one output's TFRecord shards (bert-128, electra-512, ...)."""

    def __init__(
        self,
        sentences_glob: str,
        vocab_path: str,
        spec: OutputSpec,
        config: TfrecordsConfig,
        output_dir: str,
        exchange: str = file_shuffle.FILES,
        after=None,
    ) -> None:
        super().__init__()
        self._glob, self._vocab_path, self._spec = sentences_glob, vocab_path, spec
        self._config, self._output_dir, self._exchange = config, output_dir, exchange
        # When fused: one element once morph and the vocabularies are both complete.
        self._after = after

    def expand(self, pipeline):
        c = self._config
        whole_word = c.whole_word_mask and self._spec.flavour == "bert"
        num_shards = {"train": c.num_shards, "eval": c.eval_num_shards}
        scratch = scratch_dir(self._output_dir, self._spec.name)
        # Exchange `files`: sentences and examples travel through scratch files
        # (pipeline/io/file_shuffle.py) and Beam groups only their BlockRefs, so no
        # runner holds the corpus; `beam`: the groupings carry the blocks themselves.
        exchange = self._exchange
        built = (
            filesystems.match_files(pipeline, self._glob, self._after)
            | "Paths" >> beam.Map(file_path)
            | "Spread" >> beam.Reshuffle()
            | "Tokenize" >> beam.ParDo(TokenizeSentences(self._vocab_path, c, whole_word, scratch, exchange))
            | "GroupByBucket" >> beam.GroupByKey()
            | "Build"
            >> beam.ParDo(
                BuildExamples(
                    self._spec, self._vocab_path, c, num_shards, scratch, self._output_dir, exchange
                )
            )
        )
        counts = beam.pvalue.AsDict(built | "Counts" >> beam.Map(built_count))
        pieces = built | "Deal" >> beam.ParDo(DealPieces(num_shards), counts=counts)
        every = [(split, i) for split, n in sorted(num_shards.items()) for i in range(n)]
        every_shard = pipeline | "Shards" >> beam.Create([(k, None) for k in every])
        return (
            {"shard": every_shard, "pieces": pieces}
            | "GroupByShard" >> beam.CoGroupByKey()
            | "Write" >> beam.ParDo(WriteShard(self._output_dir, self._spec, num_shards, c.gzip))
        )


def vocab_paths(ctx: StageContext) -> dict[str, str]:
    return layout.pretraining_vocabs(ctx.config, ctx.config.tfrecords, ctx.upstream_dirs[layout.VOCAB])


def build(p: beam.Pipeline, ctx: StageContext):
    config = ctx.config.tfrecords
    glob = filesystems.join(ctx.upstream_dirs["morph"], "sentences", "part-*.parquet")
    vocabs = vocab_paths(ctx)
    after = filesystems.after_all(p, [ctx.after(layout.MORPH), ctx.after(layout.VOCAB)], "RecordsAfter")
    return tuple(
        p
        | f"Records_{spec.name}"
        >> BuildPretrainingRecords(
            glob,
            vocabs[spec.flavour],
            spec,
            config,
            ctx.output_dir,
            ctx.config.runner.resolved_exchange,
            after=after,
        )
        for spec in output_specs(config)
    )


def nsp_report(output_dir: str, spec_name: str, rule: str) -> dict:
    """An output's NSP labels from its buckets' count files: counts, label-1 share per
    split and in all, the rule version; a warning (also logged) when the share is
    outside NSP_SHARE_RANGE."""
    splits = {}
    for split in SPLITS:
        counts = NspCounts()
        pattern = filesystems.join(scratch_dir(output_dir, spec_name), "nsp", f"{split}-*.json")
        for path in filesystems.list_files(pattern):
            counts.add(NspCounts(**filesystems.read_json(path)))
        splits[split] = counts
    total = NspCounts()
    for counts in splits.values():
        total.add(counts)
    share = total.share()
    report = {
        "rule": NSP_RULES[rule],
        **total.as_dict(),
        "random_next_share": None if share is None else round(share, 4),
        "random_next_share_by_split": {
            split: None if c.share() is None else round(c.share(), 4) for split, c in splits.items()
        },
    }
    low, high = NSP_SHARE_RANGE
    if share is not None and not low <= share <= high:
        pairs = total.random_next + total.actual_next
        report["warning"] = (
            f"{spec_name}: label-1 (random next) share {share:.3f} outside {low}-{high}; "
            f"{total.forced_random} of {pairs} pairs came from one-sentence chunks, which have no "
            f"real next segment"
            + (" (tfrecords.nsp_rule: balanced evens out the rest)" if rule == "google" else "")
        )
        log.warning("tfrecords: %s", report["warning"])
    return report


def finalize(ctx: StageContext) -> dict:
    """Write each output's schema beside it, validate the output (or `validate_shards` of
    each split) with TFDV, and report the example counts validated and, per BERT output,
    its NSP labels (`nsp_report`)."""
    from pipeline.pretraining import schema_files

    config = ctx.config.tfrecords
    nsp = {
        spec.name: nsp_report(ctx.output_dir, spec.name, config.nsp_rule)
        for spec in output_specs(config)
        if spec.flavour == "bert"
    }
    filesystems.delete_tree(filesystems.join(ctx.output_dir, SCRATCH))
    report = {}
    for spec in output_specs(config):
        folder = filesystems.join(ctx.output_dir, spec.name)
        schema_text = schema_files.schema_text(
            spec, vocab_size(vocab_paths(ctx)[spec.flavour]), masking=config.masking
        )
        filesystems.write_bytes(filesystems.join(folder, "schema.pbtxt"), schema_text.encode())
        counts = {}
        for split in SPLITS:
            files = filesystems.list_files(filesystems.join(folder, f"Split-{split}", "part-*"))
            if config.validate_shards:
                files = files[: config.validate_shards]
            counts[split] = schema_files.validate_files(files, schema_text, config.gzip)
        report[spec.name] = counts
        filesystems.write_json(filesystems.join(folder, "counts.json"), counts)
    if nsp:
        report["nsp"] = nsp
    return report


def stage_files(config) -> list[str]:
    from pipeline.config import resolve_path

    c = config.tfrecords
    return [resolve_path(config, p) for p in (c.bert_vocab, c.electra_vocab) if p]


STAGE = Stage(
    name=NAME,
    upstream=("morph", "vocab"),
    versions={"bert": BERT_VERSION, "electra": ELECTRA_VERSION, "sharding": SHARDING_VERSION},
    build=build,
    description="morphemes -> BERT and ELECTRA pretraining TFRecords",
    accounting=("sentences_in", "sentences_empty", "instances_dropped_empty_segment"),
    files=stage_files,
    finalize=finalize,
    fusable=True,
)
