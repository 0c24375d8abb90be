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

The per-sentence work (`pipeline.text.morphemes`): MeCab's own C++
command-line parser in-process (python-mecab-ko's `_mecab.cli.mecab`, one call
per batch of sentences, `-Owakati`), about 3x faster than `MeCab.morphs()`.
One shard in, one shard out: nothing is shuffled.
"""

from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import MorphConfig
from pipeline.io import filesystems
from pipeline.layout import USER_DIC, morph_schema
from pipeline.run.stage import Stage, StageContext
from pipeline.text.morphemes import TAGGER_VERSION, MecabBatchTagger, format_rows, morph_rows

NAME = layout.MORPH


class MorphShard(beam.DoFn):
    """(index, clean sentences path) -> morph text and Parquet shards."""

    def __init__(
        self, config: MorphConfig, user_dictionary: str | None, output_dir: str, blank_line_between: str
    ):
        self._config, self._user_dictionary = config, user_dictionary
        self._output_dir, self._blank_line_between = output_dir, blank_line_between

    def setup(self):
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
        index, path = element
        match = layout.SHARD_NAME.search(path)
        num_shards = int(match.group(2))
        text_path = filesystems.shard_path(
            filesystems.join(self._output_dir, "text"), "part", index, num_shards, ".txt"
        )
        table_path = filesystems.shard_path(
            filesystems.join(self._output_dir, "sentences"), "part", index, num_shards, ".parquet"
        )
        writer = filesystems.ParquetShardWriter(table_path, morph_schema())
        progress = filesystems.Progress(NAME, "sentences")
        previous = None
        batch: list[dict] = []
        with filesystems.FileSystems.create(text_path) as text:
            for row in filesystems.iter_parquet_rows(path):
                batch.append(row)
                if len(batch) >= self._config.batch_sentences:
                    previous = self._write(batch, writer, text, previous, progress)
                    batch = []
            previous = self._write(batch, writer, text, previous, progress)
            if previous is not None:
                text.write(b"\n")  # the blank line after the shard's last paragraph
        writer.close()
        yield index

    def _write(self, batch, writer, text, previous, progress):
        if not batch:
            return previous
        rows = morph_rows(batch, self._tagger, self._unaligned.inc)
        writer.add(rows)
        chunk, previous = format_rows(rows, previous, self._blank_line_between)
        text.write(chunk.encode("utf-8"))
        Metrics.counter(NAME, "sentences").inc(len(rows))
        Metrics.counter(NAME, "morphemes").inc(sum(len(r["word_starts"]) for r in rows))
        Metrics.counter(NAME, "bytes_in").inc(sum(len(r["text"].encode("utf-8")) for r in batch))
        progress.tick(len(rows))
        return previous


class MorphSentences(beam.PTransform):
    """Clean sentence shards -> morpheme text and tables, one shard per clean shard."""

    def __init__(
        self,
        sentences_glob: str,
        config: MorphConfig,
        user_dictionary: str | None,
        output_dir: str,
        blank_line_between: str,
    ) -> None:
        super().__init__()
        self._glob, self._config, self._user_dictionary = sentences_glob, config, user_dictionary
        self._output_dir, self._blank_line_between = output_dir, blank_line_between

    def expand(self, pipeline):
        return (
            pipeline
            | "Match" >> fileio.MatchFiles(self._glob)
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
    _ = p | "Morph" >> MorphSentences(
        glob, config, user_dictionary, ctx.output_dir, ctx.upstream_section(layout.CLEAN).blank_line_between
    )


STAGE = Stage(
    name=NAME,
    upstream=("clean", "dictionary"),
    versions={"tagger": TAGGER_VERSION},
    build=build,
    description="sentences -> Mecab-ko morphemes with word starts",
    accounting=("sentences", "morphemes", "sentences_unaligned"),
)
