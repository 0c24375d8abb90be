"""`python -m pipeline stats PATH_OR_GLOB`: what a set of BERT or ELECTRA TFRecords holds.

Works on any such files (this pipeline's, Google's, ELECTRA's): the flavour and
lengths are read from the records. Prints examples and tokens, fill and padding
share, NSP balance, masked-count distribution, UNK rate, a length histogram,
the most frequent tokens and three decoded examples; writes `stats.json`,
`stats.html` (figures, inline SVG charts and tables, train and eval side by side
when the files span both TFX splits; offline, no external reference) and TFDV's
statistics as data (`tfdv_statistics.pb`, read with `tfdv.load_stats_binary`).
"""

from __future__ import annotations

import collections
import os
import struct
import sys
from collections.abc import Iterable, Sequence

from pipeline.io import filesystems
from pipeline.tools import html_page as page

ID_NAMES = ("input_ids", "input_word_ids")
SEGMENT_NAMES = ("segment_ids", "input_type_ids")
HISTOGRAM_BINS = 16


def expand_paths(path_or_glob: str) -> list[str]:
    """A file, a folder (every TFRecord file below it) or a glob -> sorted files."""
    if filesystems.exists(path_or_glob) and os.path.isdir(path_or_glob):
        files = [p for p in filesystems.files_under(path_or_glob) if ".tfrecord" in os.path.basename(p)]
        return sorted(files)
    return filesystems.list_files(path_or_glob)


def _masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C of `data`."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: str) -> Iterable[bytes]:
    """The serialized records of one TFRecord file (GZIP when the name ends in .gz).

    Reads the framing (length, CRC, data, CRC) itself rather than through tf.data,
    whose iterator logs an OUT_OF_RANGE warning at the end of every file; the CRCs
    are not checked (these are figures, not a validation)."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    compression = CompressionTypes.GZIP if path.endswith(".gz") else CompressionTypes.UNCOMPRESSED
    with FileSystems.open(path, compression_type=compression) as f:
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise ValueError(f"{path}: truncated TFRecord header")
            (length,) = struct.unpack("<Q", header[:8])
            # The length's own CRC: a file that is not a TFRecord (a Parquet shard)
            # fails here instead of asking for a read of a huge "length".
            if struct.unpack("<I", header[8:])[0] != _masked_crc32c(header[:8]):
                raise ValueError(f"{path}: not a TFRecord file (bad record header)")
            data = f.read(length + 4)
            if len(data) < length + 4:
                raise ValueError(f"{path}: truncated TFRecord")
            yield data[:length]


def iter_examples(files: Sequence[str], limit: int | None = None) -> Iterable[dict[str, list]]:
    """Feature dicts of the records in `files` (GZIP when the name ends in .gz)."""
    from tensorflow.core.example import example_pb2

    n = 0
    for path in files:
        for record in read_records(path):
            example = example_pb2.Example.FromString(record)
            features = {}
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                features[name] = list(getattr(feature, kind).value) if kind else []
            yield features
            n += 1
            if limit and n >= limit:
                return


def summarize(
    examples: Iterable[dict[str, list]],
    vocab: Sequence[str] | None = None,
    top: int = 20,
    keep_examples: int = 3,
) -> dict:
    """Figures over feature dicts (pure: no files). `vocab` decodes ids and finds [UNK]."""
    n = tokens = slots = unk = 0
    lengths: collections.Counter = collections.Counter()
    masked: collections.Counter = collections.Counter()
    nsp: collections.Counter = collections.Counter()
    token_counts: collections.Counter = collections.Counter()
    kept = []
    flavour = seq_length = masking = None
    words = 0  # dynamic masking: whole-word groups (word_ids) over all examples
    unk_id = vocab.index("[UNK]") if vocab and "[UNK]" in vocab else None
    for features in examples:
        ids = next(features[k] for k in ID_NAMES if k in features)
        if flavour is None:
            dynamic = "word_ids" in features  # unmasked BERT records: the trainer masks them
            flavour = "bert" if "masked_lm_positions" in features or dynamic else "electra"
            masking = ("dynamic" if dynamic else "static") if flavour == "bert" else None
            seq_length = len(ids)
        length = int(sum(features["input_mask"]))
        n += 1
        tokens += length
        slots += len(ids)
        lengths[length] += 1
        token_counts.update(ids[:length])
        if unk_id is not None:
            unk += ids[:length].count(unk_id)
        if masking == "dynamic":
            words += (features["word_ids"][length - 1] + 1) if length else 0
        elif masking == "static":
            masked[int(sum(features["masked_lm_weights"]))] += 1
        if flavour == "bert":
            nsp[int(features["next_sentence_labels"][0])] += 1
        if len(kept) < keep_examples:
            kept.append(features)
    stats = {
        "flavour": flavour,
        "masking": masking,
        "seq_length": seq_length,
        "examples": n,
        "tokens": tokens,
        "fill": tokens / slots if slots else 0.0,
        "padding_share": 1 - tokens / slots if slots else 0.0,
        "length_histogram": histogram(lengths, seq_length or 1),
        "top_tokens": [
            {"id": i, "token": vocab[i] if vocab and i < len(vocab) else None, "count": c}
            for i, c in token_counts.most_common(top)
        ],
        "examples_decoded": [decode(f, vocab) for f in kept],
    }
    if unk_id is not None:
        stats["unk_rate"] = unk / tokens if tokens else 0.0
    if flavour == "bert":
        stats["nsp_random_next_share"] = nsp[1] / n if n else 0.0
    if masking == "static":
        stats["masked_count_distribution"] = {str(k): v for k, v in sorted(masked.items())}
    if masking == "dynamic":
        stats["words_per_example"] = words / n if n else 0.0
    return stats


def histogram(lengths: collections.Counter, seq_length: int, bins: int = HISTOGRAM_BINS) -> list[dict]:
    """Example lengths (tokens before padding) in `bins` equal ranges 1..seq_length."""
    width = max(1, -(-seq_length // bins))
    counts = [0] * -(-seq_length // width)
    for length, count in lengths.items():
        counts[min(max(length - 1, 0) // width, len(counts) - 1)] += count
    return [{"from": i * width + 1, "to": (i + 1) * width, "count": c} for i, c in enumerate(counts)]


def decode(features: dict[str, list], vocab: Sequence[str] | None) -> dict:
    ids = next(features[k] for k in ID_NAMES if k in features)
    length = int(sum(features["input_mask"]))
    words = [vocab[i] if vocab and i < len(vocab) else str(i) for i in ids[:length]]
    out = {"text": " ".join(words)}
    if "next_sentence_labels" in features:
        out["next_sentence_label"] = features["next_sentence_labels"][0]
    if "masked_lm_positions" in features:
        weights = features["masked_lm_weights"]
        out["masked"] = [
            {"position": p, "label": vocab[i] if vocab and i < len(vocab) else i}
            for p, i, w in zip(
                features["masked_lm_positions"], features["masked_lm_ids"], weights, strict=True
            )
            if w
        ]
    return out


def format_text(stats: dict) -> str:
    lines = [
        f"flavour {stats['flavour']}"
        + (" (dynamic masking)" if stats.get("masking") == "dynamic" else "")
        + f", sequence length {stats['seq_length']}",
        f"examples {stats['examples']:,}  tokens {stats['tokens']:,}",
        f"fill {stats['fill']:.3f}  padding share {stats['padding_share']:.3f}",
    ]
    if "unk_rate" in stats:
        lines.append(f"UNK rate {stats['unk_rate']:.4%}")
    if "nsp_random_next_share" in stats:
        lines.append(f"NSP random next (label 1) share {stats['nsp_random_next_share']:.3f}")
    if "masked_count_distribution" in stats:
        dist = " ".join(f"{k}:{v}" for k, v in stats["masked_count_distribution"].items())
        lines.append(f"masked positions per example: {dist}")
    if "words_per_example" in stats:
        lines.append(
            f"whole-word groups per example {stats['words_per_example']:.1f} (masked by the trainer)"
        )
    peak = max([b["count"] for b in stats["length_histogram"]] + [1])
    lines.append("length histogram:")
    for b in stats["length_histogram"]:
        lines.append(f"  {b['from']:>4}-{b['to']:<4} {b['count']:>9,} {'#' * round(40 * b['count'] / peak)}")
    lines.append(
        "most frequent tokens: "
        + ", ".join(f"{t['token'] or t['id']} {t['count']:,}" for t in stats["top_tokens"])
    )
    for i, example in enumerate(stats["examples_decoded"], 1):
        lines.append(f"example {i}: {example['text']}")
        if "masked" in example:
            lines.append(
                f"  masked: {example['masked']}  next_sentence_label: {example['next_sentence_label']}"
            )
    return "\n".join(lines)


def split_name(path: str) -> str:
    """'train' for `.../Split-train/part-*`, '' for files outside a TFX split folder."""
    folder = os.path.basename(os.path.dirname(path))
    return folder[len("Split-") :] if folder.startswith("Split-") else ""


def split_groups(files: Sequence[str]) -> dict[str, list[str]]:
    """Files by TFX split (train first, then eval, then the rest); one group '' when none."""
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for path in files:
        groups[split_name(path)].append(path)
    order = {"train": 0, "eval": 1}
    return {k: groups[k] for k in sorted(groups, key=lambda k: (order.get(k, 2), k))}


def _masked_mean(stats: dict) -> float | None:
    dist = stats.get("masked_count_distribution")
    if not dist or not stats["examples"]:
        return None
    return sum(int(k) * v for k, v in dist.items()) / stats["examples"]


def figures_table(summaries: dict[str, dict]) -> str:
    """The summaries' main figures, one column per split (or per input)."""
    names = list(summaries)

    def row(label, key, fmt):
        return [label, *(fmt(s.get(key)) if key in s else page.MISSING for s in summaries.values())]

    rows = [
        row("examples read", "examples", page.fmt_int),
        row("tokens", "tokens", page.fmt_int),
        row("sequence length", "seq_length", page.fmt_int),
        row("fill (tokens / slots)", "fill", page.fmt_pct),
        row("padding share", "padding_share", page.fmt_pct),
        row("UNK rate", "unk_rate", lambda v: page.fmt_pct(v, 3)),
        row("NSP random next (label 1)", "nsp_random_next_share", page.fmt_pct),
        [
            "masked positions per example (mean)",
            *(page.fmt_float(_masked_mean(s), 2) for s in summaries.values()),
        ],
    ]
    return page.table(["", *names], rows, [False, *[True] * len(names)])


def figures_html(summaries: dict[str, dict]) -> str:
    """Figures table, length histogram and masked-count chart; splits side by side."""
    shares = {}
    for name, s in summaries.items():
        n = max(1, s["examples"])
        shares[name] = [b["count"] / n for b in s["length_histogram"]]
    first = next(iter(summaries.values()))
    bins = [f"{b['from']}-{b['to']}" for b in first["length_histogram"]]
    charts = [
        page.bar_chart(
            bins,
            shares,
            title="Example length (tokens before padding), share of examples",
            y_label="examples",
            percent=True,
        )
    ]
    masked = {name: s.get("masked_count_distribution") for name, s in summaries.items()}
    if any(masked.values()):
        counts = sorted({int(k) for dist in masked.values() if dist for k in dist})
        charts.append(
            page.bar_chart(
                [str(c) for c in counts],
                {
                    name: [(dist or {}).get(str(c), 0) / max(1, summaries[name]["examples"]) for c in counts]
                    for name, dist in masked.items()
                },
                title="Masked positions per example, share of examples",
                percent=True,
            )
        )
    return figures_table(summaries) + page.grid(*charts)


def _decoded_rows(examples: list[dict]) -> list[list]:
    rows = []
    for i, example in enumerate(examples, 1):
        masked = ", ".join(f"{m['position']}→{m['label']}" for m in example.get("masked", []))
        nsp = example.get("next_sentence_label")
        rows.append(
            [
                i,
                page.Raw(f'<span class="wrap">{page.esc(example["text"])}</span>'),
                masked,
                "" if nsp is None else nsp,
            ]
        )
    return rows


def html_report(stats: dict, tfdv_features: list[dict] | None = None, tfdv_note: str = "") -> str:
    """stats.html: figures (splits side by side when the files hold several), charts,
    top tokens, decoded examples and TFDV's per-feature statistics as a table."""
    summaries = stats.get("splits") or {"all files": stats}
    sections = [
        (
            "figures",
            "Figures",
            page.note(
                f"{stats['flavour']} records, sequence length {stats['seq_length']}, "
                f"{stats.get('files', '?')} files, {stats['examples']:,} examples read"
            )
            + figures_html(summaries),
        ),
        (
            "tokens",
            "Most frequent tokens",
            page.table(
                ["token", "id", "count"],
                [
                    [t["token"] if t["token"] is not None else page.MISSING, t["id"], t["count"]]
                    for t in stats["top_tokens"]
                ],
                [False, True, True],
            ),
        ),
        (
            "examples",
            "Decoded examples",
            page.table(
                ["#", "tokens", "masked (position→label)", "NSP label"],
                _decoded_rows(stats["examples_decoded"]),
                [True, False, False, True],
            ),
        ),
    ]
    if tfdv_features is not None or tfdv_note:
        body = page.note(tfdv_note) if tfdv_note else ""
        if tfdv_features:
            body += page.table(
                [
                    "feature",
                    "type",
                    "present in",
                    "values per example (min / avg / max)",
                    "mean",
                    "min",
                    "max",
                    "zeros",
                ],
                [
                    [
                        f["name"],
                        f["type"],
                        f["num_non_missing"],
                        f"{f['min_num_values']} / {f['avg_num_values']:.1f} / {f['max_num_values']}",
                        page.fmt_float(f.get("mean"), 2),
                        page.fmt_float(f.get("min"), 0),
                        page.fmt_float(f.get("max"), 0),
                        page.fmt_int(f.get("num_zeros")),
                    ]
                    for f in tfdv_features
                ],
                [False, False, True, True, True, True, True, True],
            )
        sections.append(("tfdv", "TFDV statistics", body))
    return page.page("TFRecord stats", f"{stats['flavour']}-{stats['seq_length']}", sections)


TFDV_FILE = "tfdv_statistics.pb"


def tfdv_statistics(files: Sequence[str], out: str) -> tuple[list[dict] | None, str]:
    """TFDV's statistics of the files, written to `out/tfdv_statistics.pb` (a
    DatasetFeatureStatisticsList, `tfdv.load_stats_binary` reads it) -> (per-feature
    rows for the page, a note). (None, why) when TFDV cannot make them."""
    try:
        import tensorflow_data_validation as tfdv

        folders = sorted({os.path.dirname(f) for f in files})
        ext = ".gz" if files[0].endswith(".gz") else ""
        if len(files) == 1:
            pattern = files[0]
        elif len(folders) == 1:
            pattern = os.path.join(folders[0], "*.tfrecord" + ext)
        else:  # train and eval: every split folder
            pattern = os.path.join(os.path.commonpath(folders), "*", "*.tfrecord" + ext)
        path = filesystems.join(out, TFDV_FILE)
        stats = tfdv.generate_statistics_from_tfrecord(data_location=pattern, output_path=path)
    except Exception as e:  # the rest of the page stands on its own
        return None, f"TFDV statistics unavailable: {e}"
    return tfdv_feature_rows(
        stats
    ), f"Computed by TFDV over {pattern}; the full statistics are in {TFDV_FILE}."


def tfdv_feature_rows(stats) -> list[dict]:
    """A DatasetFeatureStatisticsList -> one dict per feature of its first dataset."""
    rows = []
    for feature in stats.datasets[0].features if stats.datasets else []:
        kind = feature.WhichOneof("stats")
        detail = getattr(feature, kind) if kind else None
        common = detail.common_stats if detail is not None else None
        row = {
            "name": ".".join(feature.path.step) or feature.name,
            "type": feature.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number[feature.type].name,
            "num_non_missing": int(common.num_non_missing) if common else 0,
            "min_num_values": int(common.min_num_values) if common else 0,
            "avg_num_values": float(common.avg_num_values) if common else 0.0,
            "max_num_values": int(common.max_num_values) if common else 0,
        }
        if kind == "num_stats":
            row.update(mean=detail.mean, min=detail.min, max=detail.max, num_zeros=int(detail.num_zeros))
        rows.append(row)
    return rows


def default_out(first_file: str) -> str:
    """Beside the files, but never inside a TFX `Split-*` folder (its readers take every file there)."""
    folder = os.path.dirname(first_file)
    name = os.path.basename(folder)
    if name.startswith("Split-"):
        return os.path.join(os.path.dirname(folder), "stats", name)
    return folder


def stats_command(
    path_or_glob: str,
    vocab_path: str | None,
    out: str | None,
    limit: int | None,
    with_tfdv: bool = True,
    default_vocabs: dict[str, str] | None = None,
) -> int:
    """`vocab_path`, else `default_vocabs[flavour]` (the vocab stage's files), decodes ids."""
    import itertools
    import sys

    files = expand_paths(path_or_glob)
    if not files:
        print(f"error: no TFRecord files match {path_or_glob}", file=sys.stderr)
        return 2
    examples = iter_examples(files, limit)
    first = next(examples, None)
    if first is None:
        print(f"error: {path_or_glob} holds no records", file=sys.stderr)
        return 2
    flavour = "bert" if "masked_lm_positions" in first or "word_ids" in first else "electra"
    vocab_path = vocab_path or (default_vocabs or {}).get(flavour)
    vocab = None
    if vocab_path and filesystems.exists(vocab_path):
        from pipeline.text.tokenizer import parse_vocab

        token_ids = parse_vocab(filesystems.read_bytes(vocab_path).decode("utf-8"))
        vocab = [t for t, _ in sorted(token_ids.items(), key=lambda kv: kv[1])]
    stats = summarize(itertools.chain([first], examples), vocab)
    stats["files"] = len(files)
    groups = split_groups(files)
    if len(groups) > 1:  # train and eval side by side in the HTML (each read up to `limit`)
        stats["splits"] = {
            name or "other": summarize(iter_examples(group, limit), vocab) for name, group in groups.items()
        }
    text = format_text(stats)
    print(text)
    out = out or default_out(files[0])
    features, tfdv_note = tfdv_statistics(files, out) if with_tfdv else (None, "")
    filesystems.write_json(filesystems.join(out, "stats.json"), stats)
    report = html_report(stats, features, tfdv_note)
    filesystems.write_bytes(filesystems.join(out, "stats.html"), report.encode("utf-8"))
    print(f"wrote {filesystems.join(out, 'stats.json')} and stats.html", file=sys.stderr)
    return 0


def default_vocab(config) -> str | None:
    """`<output_root>/vocab/bert/vocab.txt` of the config, when the vocab stage has written it."""
    from pipeline.config import resolve_path
    from pipeline.layout import VOCAB, vocab_file

    if config is None:
        return None
    path = vocab_file(filesystems.join(resolve_path(config, config.output_root), VOCAB), "bert")
    return path if filesystems.exists(path) else None


def command(config, args, beam_args: Sequence[str]) -> int:
    vocab = args.vocab
    if args.model:
        from pipeline.text.tokenizer import model_tokenizer

        if vocab:
            print("error: --model brings its own vocab; drop --vocab", file=sys.stderr)
            return 2
        try:
            vocab = model_tokenizer(args.model)["vocab"]
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    bert = default_vocab(config)
    defaults = {"bert": bert, "electra": bert.replace("/bert/", "/electra/")} if bert else None
    return stats_command(args.path, vocab, args.out, args.limit, not args.no_tfdv, defaults)
