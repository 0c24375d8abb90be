"""Stage `morph`: cleaned sentences -> Mecab-ko morphemes, with word starts marked.

In:  `<output_root>/clean/sentences/part-*.parquet` and the compiled user
     dictionary `<output_root>/dictionary/user.dic`.
Out: `text/part-NNNNN-of-NNNNN.txt`: the clean text's layout (one sentence per
     line, blank lines as in `clean`), each sentence as its morphemes joined by
     single spaces: exactly what KorPatBERT's tokenizer feeds its WordPiece step.
     `sentences/part-*.parquet`: doc_id, cpc_section, paragraph_index, section,
     sentence_index, `morphemes` (the same space-joined string) and
     `word_starts`, a string of '1'/'0' with one character per morpheme: '1'
     when the morpheme begins an eojeol (a space-separated word of the original
     sentence). `restore_spacing(morphemes, word_starts)` rebuilds the original
     sentence, and whole-word masking uses the same marks.

The per-sentence work (`pipeline.text.morphemes.MecabBatchTagger`): MeCab-ko's
C++ tagger in this process, one `-Owakati` call per sentence; a whole batch's
morpheme strings and word-start marks then come from a few string and numpy
operations, and the morphemes are `MeCab().morphs()` token for token. Batches
stay columns (Arrow record batches in, Arrow tables out): no Python object
per row or morpheme.
One shard in, one shard out: nothing is shuffled.
"""

from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import MorphConfig
from pipeline.io import filesystems
from pipeline.layout import USER_DIC, morph_schema
from pipeline.run.stage import Stage, StageContext
from pipeline.text.morphemes import TAGGER_VERSION, MecabBatchTagger, text_layout

NAME = layout.MORPH


class MorphShard(beam.DoFn):
    """(index, clean sentences path) -> morph text and Parquet shards."""

    def __init__(
        self, config: MorphConfig, user_dictionary: str | None, output_dir: str, blank_line_between: str
    ):
        self._config, self._user_dictionary = config, user_dictionary
        self._output_dir, self._blank_line_between = output_dir, blank_line_between

    def setup(self):
        self._tagger = None

    def start_bundle(self):
        # Loaded with the first bundle, not in setup: fused into one job with the
        # dictionary stage (`runner.jobs: fused`), user.dic exists only once the
        # elements that lead here have come, and a runner may set a DoFn up sooner.
        if self._tagger is None:
            self._load_tagger()

    def _load_tagger(self):
        # The dictionary reaches every worker the same way, local or gs://:
        # copied once per worker to local disk, where MeCab can mmap it.
        local = None
        if self._user_dictionary:
            local = os.path.join(filesystems.scratch_folder("userdic_"), USER_DIC)
            with open(local, "wb") as f:
                f.write(filesystems.read_bytes(self._user_dictionary))
        self._tagger = MecabBatchTagger(local)
        self._unaligned = Metrics.counter(NAME, "sentences_unaligned")

    def process(self, element):
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        index, path = element
        match = layout.SHARD_NAME.search(path)
        num_shards = int(match.group(2))
        text_path = filesystems.shard_path(
            filesystems.join(self._output_dir, "text"), "part", index, num_shards, ".txt"
        )
        table_path = filesystems.shard_path(
            filesystems.join(self._output_dir, "sentences"), "part", index, num_shards, ".parquet"
        )
        schema = morph_schema()
        writer = _TableWriter(table_path, schema)
        progress = filesystems.Progress(NAME, "sentences")
        previous = None
        columns = [f.name for f in schema if f.name not in ("morphemes", "word_starts")]
        with (
            filesystems.FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as source,
            filesystems.FileSystems.create(text_path) as text,
        ):
            batches = pq.ParquetFile(source).iter_batches(
                batch_size=self._config.batch_sentences, columns=[*columns, "text"]
            )
            for batch in batches:
                if not batch.num_rows:
                    continue
                morphemes, marks, unaligned = self._tagger.tag(batch.column("text").to_pylist())
                table = pa.Table.from_arrays(
                    [
                        *(batch.column(c) for c in columns),
                        pa.array(morphemes, pa.string()),
                        pa.array(marks, pa.string()),
                    ],
                    schema=schema,
                )
                writer.add(table)
                chunk, previous = text_layout(
                    morphemes,
                    batch.column("doc_id"),
                    batch.column("paragraph_index"),
                    previous,
                    self._blank_line_between,
                )
                text.write(chunk.encode("utf-8"))
                if unaligned:
                    self._unaligned.inc(unaligned)
                Metrics.counter(NAME, "sentences").inc(batch.num_rows)
                Metrics.counter(NAME, "morphemes").inc(sum(map(len, marks)))
                Metrics.counter(NAME, "bytes_in").inc(
                    pc.sum(pc.binary_length(batch.column("text"))).as_py() or 0
                )
                progress.tick(batch.num_rows)
            if previous is not None:
                text.write(b"\n")  # the blank line after the shard's last paragraph
        writer.close()
        yield index


class _TableWriter:
    """Arrow tables -> one Parquet file in row groups of at least ROWS_PER_GROUP rows
    (as `filesystems.ParquetShardWriter` groups dict rows): bounded memory."""

    ROWS_PER_GROUP = filesystems.ParquetShardWriter.ROWS_PER_GROUP

    def __init__(self, path: str, schema) -> None:
        import pyarrow.parquet as pq

        self._file = filesystems.FileSystems.create(path)
        self._writer = pq.ParquetWriter(self._file, schema, compression="zstd")
        self._tables: list = []
        self._rows = 0

    def add(self, table) -> None:
        self._tables.append(table)
        self._rows += table.num_rows
        if self._rows >= self.ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._tables:
            self._writer.write_table(pa.concat_tables(self._tables))
            self._tables, self._rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._file.close()


class MorphSentences(beam.PTransform):
    """Clean sentence shards -> morpheme text and tables, one shard per clean shard."""

    def __init__(
        self,
        sentences_glob: str,
        config: MorphConfig,
        user_dictionary: str | None,
        output_dir: str,
        blank_line_between: str,
        after=None,
    ) -> None:
        super().__init__()
        self._glob, self._config, self._user_dictionary = sentences_glob, config, user_dictionary
        self._output_dir, self._blank_line_between = output_dir, blank_line_between
        # When fused: one element once clean and the dictionary are both complete.
        self._after = after

    def expand(self, pipeline):
        return (
            filesystems.match_files(pipeline, self._glob, self._after)
            | "ShardIndex" >> beam.Map(layout.parquet_shard)
            | "Spread" >> beam.Reshuffle()
            | "Morph"
            >> beam.ParDo(
                MorphShard(self._config, self._user_dictionary, self._output_dir, self._blank_line_between)
            )
        )


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    config = ctx.config.morph
    glob = filesystems.join(ctx.upstream_dirs["clean"], "sentences", "part-*.parquet")
    user_dictionary = None
    if config.use_user_dictionary:
        user_dictionary = filesystems.join(ctx.upstream_dirs[layout.DICTIONARY], USER_DIC)
    return p | "Morph" >> MorphSentences(
        glob,
        config,
        user_dictionary,
        ctx.output_dir,
        ctx.upstream_section(layout.CLEAN).blank_line_between,
        after=filesystems.after_all(p, [ctx.after(layout.CLEAN), ctx.after(layout.DICTIONARY)], "MorphAfter"),
    )


STAGE = Stage(
    name=NAME,
    upstream=("clean", "dictionary"),
    versions={"tagger": TAGGER_VERSION},
    build=build,
    description="sentences -> Mecab-ko morphemes with word starts",
    accounting=("sentences", "morphemes", "sentences_unaligned"),
    fusable=True,
)
