"""Stage `ingest`: raw publications -> a Parquet table of paragraphs.

In:  the input globs of pipeline.yaml (KIPO XML, JSONL, Parquet, 【section】 text;
     `.gz` allowed).
Out: `<output_root>/ingest/paragraphs/part-NNNNN-of-NNNNN.parquet` with columns
     doc_id, source, cpc_section, paragraph_index, section, text. Each input
     file goes to one shard (a stable hash of its path); a publication's
     paragraphs are adjacent rows. `source` (path, path@byte for a JSONL line,
     path:row for Parquet)
     identifies one publication instance even when two share a doc_id.
     `rejects/part-*.jsonl` holds every input unit (file, JSONL line, Parquet
     row) that did not become a publication, with its reason.

Accounting: input units = publications written + rejected (manifest counters
`input_units`, `publications_written`, `rejected`). Titles: every title of a
written publication went through `pipeline.text.titles.korean_title`, and
`titles_kept` + `titles_cut` + `titles_dropped` count what was done to them
(a trailing English title cut, an English-only title dropped); the Korean
title is each publication's first paragraph. Parsing lives in
`pipeline.text.readers`; this module only wires it into Beam.

Fault isolation: whatever goes wrong with one unit (a reader bug included,
`reader_error`) rejects that unit, with its reason and source, and the run
goes on; the stage fails only when more than `ingest.max_reject_share` of
the units are rejected. Only regular files are opened: FIFOs, devices and
sockets matching a glob are rejected (`not_a_regular_file`), as are symlink
loops, dangling symlinks and symlinks leaving the input folders (unless
`ingest.follow_symlinks_outside`); directories are skipped and counted
(`skipped_directories`). A file matched by several globs is read once, with
the format of the first input that matches it.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import stat
import zlib

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes, FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.config import IngestConfig, resolve_path
from pipeline.io import filesystems
from pipeline.layout import PARAGRAPHS, REJECTS, paragraph_schema
from pipeline.run.stage import Stage, StageContext
from pipeline.text import readers
from pipeline.text.publication import InputRejected, Publication
from pipeline.text.readers.common import SURROGATE, reader_error, repair_text
from pipeline.text.titles import OUTCOMES as TITLE_OUTCOMES
from pipeline.text.titles import TITLE_RULE_VERSION

NAME = "ingest"


def reject_record(rejected: InputRejected, source: str, doc_id: str = "", snippet: str = "") -> dict:
    # repair_text: a path or detail holding a lone surrogate must not break the reject file.
    return {
        "stage": NAME,
        "kind": "input",
        "source": repair_text(source),
        "doc_id": repair_text(doc_id),
        "reason": rejected.reason,
        "detail": repair_text(rejected.detail[:500]),
        "snippet": repair_text(snippet),
    }


def publication_rows(pub: Publication) -> list[dict]:
    return [
        {
            "doc_id": pub.doc_id,
            "source": pub.source,
            "cpc_section": pub.cpc_section,
            "paragraph_index": i,
            "section": para.section,
            "text": para.text,
        }
        for i, para in enumerate(pub.paragraphs)
    ]


def open_raw(path: str):
    """The file's bytes as stored; `.gz` is handled here, not by Beam.

    Beam's own decompressing reader cannot `read()` a whole file, and doing it
    ourselves lets a truncated or zero-byte archive become a reject.
    """
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_stream(path: str):
    raw = open_raw(path)
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw


def parse_file(path: str, size: int, input_format: str, config: IngestConfig, start: int = 0, end=None):
    """Yield Publication or (source, InputRejected) for one file (or one byte range of a JSONL file).

    Every file yields at least one item, so nothing leaves the accounting: a
    file with no publication at all (an empty JSONL, a zero-byte `.gz`) is
    rejected as `empty_file`. An unexpected exception costs the unit it
    happened in ('reader_error'), or, when a stream breaks mid-file, the rest
    of that file (range) as one reject.
    """
    max_bytes = config.max_file_mb * 1024 * 1024
    whole_file_read = input_format in ("kipo_xml", "text")
    if whole_file_read and size > max_bytes:
        yield path, InputRejected("file_too_large", f"{size} bytes > max_file_mb={config.max_file_mb}")
        return
    stem = readers.doc_stem(path)
    produced = 0
    try:
        if whole_file_read:
            with open_raw(path) as f:
                data = readers.maybe_gunzip(f.read(), max_size=max_bytes)
            if input_format == "kipo_xml":
                item = _parse_or_reject(readers.parse_kipo_xml, data, path, stem)
            else:
                text = readers.decode_bytes(data, tuple(config.encodings))
                item = _parse_or_reject(readers.parse_sectioned_text, text, path, stem)
            produced += 1
            yield item
        elif input_format in ("jsonl", "parquet"):
            with open_stream(path) as f:
                if input_format == "jsonl":
                    items = _jsonl_items(f, path, config, start, end, max_bytes)
                else:
                    items = readers.iter_parquet(f, path)
                for item in items:
                    produced += 1
                    yield (path, item) if isinstance(item, InputRejected) else item
        else:  # config validation makes this unreachable
            raise ValueError(f"unknown input format {input_format}")
    except InputRejected as rejected:
        produced += 1
        yield path, rejected
    except (EOFError, OSError, zlib.error) as e:
        # gzip raises these for truncated or corrupt archives, possibly after
        # some lines were already read; those lines stay counted.
        produced += 1
        reason = "corrupt_archive" if path.endswith(".gz") else "unreadable_file"
        yield path, InputRejected(reason, f"{type(e).__name__}: {e}")
    except Exception as e:  # a reader bug: this file (or what is left of it) only
        produced += 1
        where = path if start == 0 and end is None else f"{path}@{start}"
        yield path, reader_error(e, f"{where} after {produced - 1} units")
    if not produced and start == 0 and end is None:
        yield path, InputRejected("empty_file", "no publication in the file")


def _jsonl_items(f, path: str, config: IngestConfig, start: int, end, max_bytes: int):
    """A JSONL file's (range's) items; a UTF-16/32 file (BOM) is decoded whole by its first range."""
    f.seek(0)
    codec = readers.wide_jsonl_codec(f.read(4))
    if codec is None:
        return readers.iter_jsonl_range(
            f, path, start, end, tuple(config.encodings), max_line_bytes=max_bytes
        )
    if start > 0:
        return iter(())  # the range starting at 0 reads the whole file
    f.seek(0)
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputRejected("file_too_large", f"{codec} JSONL over max_file_mb={config.max_file_mb}")
    return readers.iter_wide_jsonl(data, path)


def _parse_or_reject(parse, payload, path: str, stem: str):
    try:
        return parse(payload, path, stem)
    except InputRejected as rejected:
        return path, rejected
    except Exception as e:  # RecursionError, MemoryError... on one file: that file only
        return path, reader_error(e, path)


def unwritable(pub: Publication) -> str | None:
    """Why the publication's rows cannot go into Parquet (a lone surrogate in a
    string, which UTF-8 cannot encode), else None. Readers repair text; this
    guards the writer against anything that slipped through, e.g. a path."""
    for name, value in (("doc_id", pub.doc_id), ("source", pub.source)):
        if SURROGATE.search(value):
            return f"{name} holds a lone surrogate"
    for i, para in enumerate(pub.paragraphs):
        if SURROGATE.search(para.text) or SURROGATE.search(para.section):
            return f"paragraph {i} holds a lone surrogate"
    return None


# ------------------------------------------------------------ matching files


def input_folder(pattern: str) -> str:
    """The folder an input glob lists: the one holding its part before the first glob character."""
    return os.path.dirname(re.match(r"^[^[*?]*", pattern).group(0))


def _local_candidates(pattern: str):
    """(path, is_dir) for what Beam's local match lists, plus what it drops silently:
    symlinks that do not resolve and directories (os.walk's dirnames)."""
    if pattern.endswith(os.sep):
        pattern += "*"  # as Beam does
    prefix = re.match(r"^[^[*?]*", pattern).group(0)
    if prefix == pattern:
        if os.path.lexists(pattern):
            yield pattern, os.path.isdir(pattern) and not os.path.islink(pattern)
        return
    matches = re.compile(FileSystem.translate_pattern(pattern)).match
    root = os.path.dirname(prefix)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if matches(path):
                yield path, not os.path.islink(path)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if matches(path):
                yield path, False


def _within(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def classify_local(path: str, folders, follow_outside: bool) -> tuple[str, int, str]:
    """('file', size, '') for a regular file to read; ('dir', 0, '') to skip;
    ('reject', 0, 'reason: detail') otherwise. Never opens the path."""
    try:
        st = os.stat(path)
    except OSError as e:
        if os.path.islink(path):
            reason = "symlink_loop" if e.errno == errno.ELOOP else "dangling_symlink"
            return "reject", 0, f"{reason}: {e.strerror}"
        return "reject", 0, f"unreadable_file: {e.strerror}"
    if stat.S_ISDIR(st.st_mode):
        return "dir", 0, ""
    if os.path.islink(path) and not follow_outside:
        target = os.path.realpath(path)
        if not _within(target, folders):
            return "reject", 0, f"symlink_outside_inputs: points to {target}"
    if not stat.S_ISREG(st.st_mode):
        kind = stat.filemode(st.st_mode)[0]  # p fifo, c/b device, s socket
        return "reject", 0, f"not_a_regular_file: type '{kind}'"
    return "file", st.st_size, ""


def match_input(element, folders, follow_outside: bool):
    """(input index, glob, format) -> (path, (index, format, kind, size, reject)) per matched path.

    Local globs list the folder themselves (as Beam's match does) so that
    nothing is dropped silently and nothing but a regular file is opened;
    other file systems (gs://) hold only regular objects.
    """
    index, pattern, input_format = element
    if not filesystems.is_local(pattern):
        for m in FileSystems.match([pattern])[0].metadata_list:
            yield m.path, (index, input_format, "file", m.size_in_bytes, "")
        return
    for path, is_dir in _local_candidates(pattern):
        kind, size, reject = ("dir", 0, "") if is_dir else classify_local(path, folders, follow_outside)
        yield path, (index, input_format, kind, size, reject)


def route_matched(element, num_shards: int, split_bytes: int):
    """(path, [its matches]) -> work items for the shards, or its reject / skip.

    The path's first input (in config order) decides its format: a file
    matched by two globs is read once.
    """
    path, matches = element
    index, input_format, kind, size, reject = min(matches)
    if kind == "dir":
        Metrics.counter(NAME, "skipped_directories").inc()
    elif kind == "reject":
        reason, _, detail = reject.partition(": ")
        yield beam.pvalue.TaggedOutput(
            "rejects", (filesystems.stable_shard(f"{path}@0", num_shards), (path, reason, detail))
        )
    else:
        yield from file_entries(path, size, input_format, num_shards, split_bytes)


def file_entries(path: str, size: int, input_format: str, num_shards: int, split_bytes: int):
    """Matched file -> (shard index, (path, size, format, start, end)) work items.

    An uncompressed JSONL file larger than `split_bytes` becomes several byte
    ranges, so one big file does not end up as one worker's job. Every other
    file is one item. The shard is a stable hash of path and range.
    """
    if input_format == "jsonl" and not path.endswith(".gz") and size > split_bytes:
        bounds = list(range(0, size, split_bytes)) + [size]
        ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    else:
        ranges = [(0, None)]
    for start, end in ranges:
        yield filesystems.stable_shard(f"{path}@{start}", num_shards), (path, size, input_format, start, end)


class RejectShareExceeded(RuntimeError):
    """More of a stage's units were rejected than its configured share allows."""


def check_reject_share(counts: tuple[int, dict], max_share: float, what: str) -> tuple[int, dict]:
    """(units, {reason: rejected}) -> the same, or RejectShareExceeded when the rejected
    share is over `max_share`. The message names the main reasons: the failed
    run's rejects/ files are removed with the rest of its output."""
    units, reasons = counts
    rejected = sum(reasons.values())
    if units and rejected > max_share * units:
        top = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))[:5])
        raise RejectShareExceeded(
            f"{what}: {rejected} of {units} units rejected ({rejected / units:.1%}), more than "
            f"max_reject_share={max_share} (reasons: {top}); fix the inputs, or raise "
            f"{what}.max_reject_share to accept them"
        )
    return counts


def sum_counts(counts) -> tuple[int, dict]:
    """Combine (units, {reason: rejected}) pairs."""
    units, reasons = 0, {}
    for u, rs in counts:
        units += u
        for r, n in rs.items():
            reasons[r] = reasons.get(r, 0) + n
    return units, reasons


class WriteIngestShard(beam.DoFn):
    """(index, {files, rejects}) -> `paragraphs/part-i.parquet` and `rejects/part-i.jsonl`;
    yields the shard's (input units, rejected) for the reject-share check.

    Files are parsed in path order and publications keep their order within a
    file, so a shard's content does not depend on the runner or worker count.
    """

    def __init__(self, config: IngestConfig, output_dir: str) -> None:
        self._config, self._output_dir = config, output_dir

    def process(self, element):
        index, grouped = element
        n = self._config.num_shards
        files = sorted(grouped["files"], key=lambda f: (f[0], f[3]))
        writer = filesystems.ParquetShardWriter(
            filesystems.shard_path(
                filesystems.join(self._output_dir, PARAGRAPHS), "part", index, n, ".parquet"
            ),
            paragraph_schema(),
        )
        progress = filesystems.Progress(NAME, "files")
        rejects = []
        units = 0

        def reject(source: str, rejected: InputRejected) -> None:
            Metrics.counter(NAME, "rejected").inc()
            Metrics.counter(NAME, f"rejected_{rejected.reason}").inc()
            rejects.append(reject_record(rejected, source))

        # Matched paths that are not read (FIFOs, broken symlinks...): one unit each.
        for path, reason, detail in sorted(grouped.get("rejects", ())):
            units += 1
            Metrics.counter(NAME, "input_units").inc()
            reject(path, InputRejected(reason, detail))
        for path, size, input_format, start, end in files:
            if start == 0:
                Metrics.counter(NAME, f"files_{input_format}").inc()
            for item in parse_file(path, size, input_format, self._config, start, end):
                units += 1
                Metrics.counter(NAME, "input_units").inc()
                if isinstance(item, Publication):
                    problem = unwritable(item)
                    if problem:
                        reject(item.source, InputRejected("unwritable", problem))
                        continue
                    rows = publication_rows(item)
                    writer.add(rows)
                    for outcome in item.title_outcomes:
                        Metrics.counter(NAME, f"titles_{outcome}").inc()
                    Metrics.counter(NAME, f"publications_{input_format}").inc()
                    Metrics.counter(NAME, "publications_written").inc()
                    Metrics.counter(NAME, "paragraphs_written").inc(len(rows))
                else:
                    source, rejected = item
                    reject(source, rejected)
            progress.tick()
        writer.close()
        reject_path = filesystems.shard_path(
            filesystems.join(self._output_dir, REJECTS), "part", index, n, ".jsonl"
        )
        with FileSystems.create(reject_path) as f:
            filesystems.write_jsonl(f, rejects)
        reasons: dict[str, int] = {}
        for record in rejects:
            reasons[record["reason"]] = reasons.get(record["reason"], 0) + 1
        yield units, reasons


class IngestPublications(beam.PTransform):
    """Input globs -> paragraph Parquet shards and reject JSONL under `output_dir`.

    Only file paths are shuffled (to spread files over shards); each shard
    task reads its files and writes its Parquet file directly. Duplicate doc
    ids across files are resolved by `clean`, which sees all documents.
    Fails (RejectShareExceeded) when more than `max_reject_share` of the
    input units are rejected.
    """

    def __init__(self, inputs, config: IngestConfig, output_dir: str) -> None:
        super().__init__()
        self._inputs, self._config, self._output_dir = inputs, config, output_dir

    def expand(self, pipeline):
        config = self._config
        n = config.num_shards
        split_bytes = config.split_mb * 1024 * 1024
        folders = sorted(
            {os.path.realpath(input_folder(glob)) for glob, _ in self._inputs if filesystems.is_local(glob)}
        )
        globs = [(i, glob, input_format) for i, (glob, input_format) in enumerate(self._inputs)]
        matched = (
            pipeline
            | "Globs" >> beam.Create(globs)
            # One element per glob: spread the listings over the workers.
            | "SpreadGlobs" >> beam.Reshuffle()
            | "Match" >> beam.FlatMap(match_input, folders, config.follow_symlinks_outside)
            | "OncePerPath" >> beam.GroupByKey()
            | "Route" >> beam.FlatMap(route_matched, n, split_bytes).with_outputs("rejects", main="files")
        )
        return (
            {"files": matched.files, "rejects": matched.rejects}
            | "JoinFiles" >> filesystems.JoinByShard(n)
            | "WriteShards" >> beam.ParDo(WriteIngestShard(config, self._output_dir))
            | "CountUnits" >> beam.CombineGlobally(sum_counts)
            | "CheckRejectShare" >> beam.Map(check_reject_share, config.max_reject_share, NAME)
        )


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    inputs = [(resolve_path(ctx.config, s.glob), s.format) for s in ctx.config.inputs]
    return p | "Ingest" >> IngestPublications(inputs, ctx.config.ingest, ctx.output_dir)


STAGE = Stage(
    name=NAME,
    upstream=(),
    versions={"readers": getattr(readers, "READERS_VERSION", "readers_v1"), "titles": TITLE_RULE_VERSION},
    build=build,
    description="raw publications -> paragraph table",
    accounting=(
        "input_units",
        "publications_written",
        "rejected",
        "paragraphs_written",
        *(f"titles_{outcome}" for outcome in TITLE_OUTCOMES),
    ),
)
