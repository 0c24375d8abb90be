"""`python -m pipeline stats PATH_OR_GLOB`: what a set of BERT or ELECTRA TFRecords holds.

Works on any such files (this pipeline's, Google's, ELECTRA's): the flavour and
lengths are read from the records. Prints examples and tokens, fill and padding
share, NSP balance, masked-count distribution, UNK rate, a length histogram,
the most frequent tokens and three decoded examples; writes `stats.json` and
`stats.html` (TFDV's statistics view and the length histogram as an SVG).
"""

from __future__ import annotations

import collections
import html
import os
from collections.abc import Iterable, Sequence

from pipeline.io import filesystems

ID_NAMES = ("input_ids", "input_word_ids")
SEGMENT_NAMES = ("segment_ids", "input_type_ids")
HISTOGRAM_BINS = 16


def expand_paths(path_or_glob: str) -> list[str]:
    """A file, a folder (every TFRecord file below it) or a glob -> sorted files."""
    if filesystems.exists(path_or_glob) and os.path.isdir(path_or_glob):
        files = [p for p in filesystems.files_under(path_or_glob) if ".tfrecord" in os.path.basename(p)]
        return sorted(files)
    return filesystems.list_files(path_or_glob)


def iter_examples(files: Sequence[str], limit: int | None = None) -> Iterable[dict[str, list]]:
    """Feature dicts of the records in `files` (GZIP when the name ends in .gz)."""
    import tensorflow as tf
    from tensorflow.core.example import example_pb2

    n = 0
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset([path], compression_type=compression).as_numpy_iterator():
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
    flavour = seq_length = None
    unk_id = vocab.index("[UNK]") if vocab and "[UNK]" in vocab else None
    for features in examples:
        ids = next(features[k] for k in ID_NAMES if k in features)
        if flavour is None:
            flavour = "bert" if "masked_lm_positions" in features else "electra"
            seq_length = len(ids)
        length = int(sum(features["input_mask"]))
        n += 1
        tokens += length
        slots += len(ids)
        lengths[length] += 1
        token_counts.update(ids[:length])
        if unk_id is not None:
            unk += ids[:length].count(unk_id)
        if flavour == "bert":
            masked[int(sum(features["masked_lm_weights"]))] += 1
            nsp[int(features["next_sentence_labels"][0])] += 1
        if len(kept) < keep_examples:
            kept.append(features)
    stats = {
        "flavour": flavour,
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
        stats["masked_count_distribution"] = {str(k): v for k, v in sorted(masked.items())}
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
    if "masked_lm_positions" in features:
        weights = features["masked_lm_weights"]
        out["masked"] = [
            {"position": p, "label": vocab[i] if vocab and i < len(vocab) else i}
            for p, i, w in zip(
                features["masked_lm_positions"], features["masked_lm_ids"], weights, strict=True
            )
            if w
        ]
        out["next_sentence_label"] = features["next_sentence_labels"][0]
    return out


def format_text(stats: dict) -> str:
    lines = [
        f"flavour {stats['flavour']}, sequence length {stats['seq_length']}",
        f"examples {stats['examples']:,}  tokens {stats['tokens']:,}",
        f"fill {stats['fill']:.3f}  padding share {stats['padding_share']:.3f}",
    ]
    if "unk_rate" in stats:
        lines.append(f"UNK rate {stats['unk_rate']:.4%}")
    if "nsp_random_next_share" in stats:
        lines.append(f"NSP random next (label 1) share {stats['nsp_random_next_share']:.3f}")
        dist = " ".join(f"{k}:{v}" for k, v in stats["masked_count_distribution"].items())
        lines.append(f"masked positions per example: {dist}")
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


def histogram_svg(bins: list[dict], width: int = 640, height: int = 200) -> str:
    peak = max([b["count"] for b in bins] + [1])
    bar = width / max(1, len(bins))
    rects = []
    for i, b in enumerate(bins):
        h = (height - 20) * b["count"] / peak
        rects.append(
            f'<rect x="{i * bar:.1f}" y="{height - 20 - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
            f'fill="#4a7ab7"><title>{b["from"]}-{b["to"]}: {b["count"]}</title></rect>'
            f'<text x="{i * bar:.1f}" y="{height - 5}" font-size="9">{b["from"]}</text>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(rects)}</svg>'


def html_report(stats: dict, text: str, tfdv_html: str = "") -> str:
    return (
        "<!doctype html><meta charset='utf-8'><title>TFRecord stats</title>"
        f"<h1>TFRecord stats</h1><pre>{html.escape(text)}</pre>"
        f"<h2>Length histogram</h2>{histogram_svg(stats['length_histogram'])}"
        + (f"<h2>TFDV statistics</h2>{tfdv_html}" if tfdv_html else "")
    )


def tfdv_view(files: Sequence[str]) -> str:
    """TFDV's statistics view of the files as HTML ('' when TFDV cannot make it)."""
    try:
        import tensorflow_data_validation as tfdv
        from tensorflow_data_validation.utils.display_util import get_statistics_html

        folder = os.path.dirname(files[0])
        ext = ".gz" if files[0].endswith(".gz") else ""
        pattern = files[0] if len(files) == 1 else os.path.join(folder, "*.tfrecord" + ext)
        stats = tfdv.generate_statistics_from_tfrecord(data_location=pattern)
        return get_statistics_html(stats)
    except Exception as e:  # the text report stands on its own
        return f"<p>TFDV view unavailable: {html.escape(str(e))}</p>"


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
    flavour = "bert" if "masked_lm_positions" in first else "electra"
    vocab_path = vocab_path or (default_vocabs or {}).get(flavour)
    vocab = None
    if vocab_path and filesystems.exists(vocab_path):
        from pipeline.text.tokenizer import parse_vocab

        token_ids = parse_vocab(filesystems.read_bytes(vocab_path).decode("utf-8"))
        vocab = [t for t, _ in sorted(token_ids.items(), key=lambda kv: kv[1])]
    stats = summarize(itertools.chain([first], examples), vocab)
    stats["files"] = len(files)
    text = format_text(stats)
    print(text)
    out = out or default_out(files[0])
    filesystems.write_json(filesystems.join(out, "stats.json"), stats)
    report = html_report(stats, text, tfdv_view(files) if with_tfdv else "")
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
    bert = default_vocab(config)
    defaults = {"bert": bert, "electra": bert.replace("/bert/", "/electra/")} if bert else None
    return stats_command(args.path, args.vocab, args.out, args.limit, not args.no_tfdv, defaults)
