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

Sampling (Beam): each sentence gets u = hash(seed, doc_id, paragraph_index,
sentence_index) in [0, 1). With N sentences in all, u < eval/N goes to the
held-out sample and eval/N <= u < (eval + train)/N to the training sample:
uniform, seeded, the same on every runner and rerun, and nothing but a count
is held centrally. Training sentences are basic-split exactly as the tokenizer
splits them (punctuation and Hanja become their own words), so SentencePiece
and WordPiece learn pieces inside the words the tokenizer will see. Sentences
longer than `max_sentence_bytes` (SentencePiece silently skips them) are cut
at word boundaries and counted (`long_sentences_split`); a single word longer
than that is dropped and counted (`long_words_dropped`).

Training (finalize, one process, memory bounded by `sample_sentences`):
SentencePiece with identity normalisation (no NFKC, no lower-casing), the
configured character coverage, and a fixed thread count (its result depends on
the thread count, but is byte-identical across reruns with the same one); the
WordPiece learner with its alphabet sized by the same character coverage
instead of its 1000-character default. When the data cannot support the
requested size, SentencePiece's maximum is used (the manifest records
requested and actual sizes, and a warning is logged).
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence, Set

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import VocabConfig
from pipeline.io import filesystems
from pipeline.run.stage import Stage, StageContext
from pipeline.text.mecab_dictionary import split_csv_line
from pipeline.text.tokenizer import BERT_HEAD, KORPAT_HEAD, SUFFIX, Tokenizer, basic_split

log = logging.getLogger(__name__)

NAME = "vocab"
SAMPLE_VERSION = "hash_band_sample_v1"
SPM_EXPORT_VERSION = "spm_to_wordpiece_v1"
WORDPIECE_VERSION = "tftext_wordpiece_learner_v1"
REPORT_VERSION = "vocab_report_v1"

SPM_SPACE = "\u2581"  # ▁, SentencePiece's word-start mark
LONGEST_PIECES = 50
SAMPLE_COLUMNS = ["doc_id", "paragraph_index", "sentence_index", "morphemes", "word_starts"]

# ------------------------------------------------------------------ sampling


def sample_position(seed: int, doc_id: str, paragraph_index: int, sentence_index: int) -> float:
    """A sentence's place in [0, 1) for the seeded sample: a stable hash of its position."""
    key = f"{seed}\x00{doc_id}\x00{paragraph_index}\x00{sentence_index}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64


def sample_band(u: float, total: int, eval_sentences: int, sample_sentences: int) -> str | None:
    """'eval', 'train' or None (not sampled) for position u among `total` sentences."""
    if total <= 0:
        return None
    eval_share = min(1.0, eval_sentences / total)
    train_share = min(1.0 - eval_share, sample_sentences / total)
    if u < eval_share:
        return "eval"
    if u < eval_share + train_share:
        return "train"
    return None


def training_words(morphemes: str) -> list[str]:
    """The words the tokenizer will see in a morph sentence (its basic split, cased)."""
    return basic_split(morphemes)


def split_long(words: Sequence[str], max_bytes: int) -> tuple[list[str], int]:
    """Words -> lines of at most `max_bytes` UTF-8 bytes, cut between words.

    Returns (lines, words dropped); a word longer than `max_bytes` by itself is dropped.
    """
    lines: list[str] = []
    current: list[str] = []
    size = dropped = 0
    for word in words:
        n = len(word.encode("utf-8"))
        if n > max_bytes:
            dropped += 1
            continue
        if current and size + 1 + n > max_bytes:
            lines.append(" ".join(current))
            current, size = [], 0
        size += n + (1 if current else 0)
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines, dropped


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


# ------------------------------------------------------------------ SentencePiece


_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")


def train_sentencepiece(
    sentences: Iterable[str],
    vocab_size: int,
    *,
    model_type: str = "bpe",
    character_coverage: float = 0.9995,
    max_sentence_bytes: int = 4192,
    num_threads: int = 1,
    normalization: str = "identity",
    cap_vocab_size: bool = True,
) -> tuple[bytes, int]:
    """SentencePiece on space-separated words, KorPatBERT's head placed first.

    Returns (model bytes, actual vocab size). The five BERT specials are
    user-defined symbols, so the pieces start `<unk> <s> </s> [PAD] [UNK] [CLS]
    [SEP] [MASK]`. With `cap_vocab_size`, a size the data cannot support is
    lowered to SentencePiece's stated maximum instead of failing.
    """
    import sentencepiece as spm

    sentences = list(sentences)
    while True:
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model,
                model_type=model_type,
                vocab_size=vocab_size,
                character_coverage=character_coverage,
                user_defined_symbols=list(BERT_HEAD),
                normalization_rule_name=normalization,
                max_sentence_length=max_sentence_bytes,
                input_sentence_size=0,  # the sample is already drawn, in Beam
                num_threads=num_threads,
                minloglevel=2,
            )
        except RuntimeError as e:
            match = _TOO_HIGH.search(str(e))
            if not (cap_vocab_size and match) or int(match.group(2)) >= vocab_size:
                raise
            vocab_size = int(match.group(2))
            continue
        return model.getvalue(), vocab_size


def sentencepiece_pieces(model: bytes) -> list[tuple[str, float]]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=model)
    return [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]


def sentencepiece_to_wordpiece(pieces: Sequence[str]) -> list[str]:
    """SentencePiece pieces -> KorPatBERT's vocab.txt lines (`▁x` -> `x`, `x` -> `##x`).

    The head must be KorPatBERT's eight specials; the bare `▁` is dropped, and
    a piece that converts to an entry already present is dropped too (the
    tokenizer would otherwise see a repeated token). Every character the model
    covers then gets both forms, `c` and `##c`, appended last where missing:
    SentencePiece writes a one-character word as `▁` + `c`, which has no
    WordPiece form, so without `c` the tokenizer would make it [UNK].
    """
    head = tuple(pieces[: len(KORPAT_HEAD)])
    if head != KORPAT_HEAD:
        raise ValueError(f"SentencePiece model does not start with {KORPAT_HEAD}: {head}")
    words, seen = list(KORPAT_HEAD), set(KORPAT_HEAD)

    def add(word: str) -> None:
        if word not in seen:
            seen.add(word)
            words.append(word)

    body = [p for p in pieces[len(KORPAT_HEAD) :] if p != SPM_SPACE]
    for piece in body:
        add(piece[1:] if piece.startswith(SPM_SPACE) else SUFFIX + piece)
    for piece in body:
        if len(piece) == 1:
            add(piece)
            add(SUFFIX + piece)
    return words


# ------------------------------------------------------------------ WordPiece


def alphabet_size(word_counts: Iterable[tuple[str, int]], coverage: float) -> int:
    """How many of the most frequent characters cover `coverage` of all characters."""
    chars: collections.Counter[str] = collections.Counter()
    for word, count in word_counts:
        for ch in word:
            chars[ch] += count
    total = sum(chars.values())
    covered = kept = 0
    for _, n in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        if total and covered / total >= coverage:
            break
        covered += n
        kept += 1
    return max(kept, 1)


def learn_wordpiece(
    word_counts: Sequence[tuple[str, int]], vocab_size: int, config: VocabConfig
) -> list[str]:
    """tensorflow-text's WordPiece learner with Korean-safe settings; [PAD] [UNK] [CLS] [SEP] [MASK] first.

    The alphabet is sized by character coverage (the learner's default keeps
    1000 characters, fewer than Korean syllables plus Hanja); nothing is
    lower-cased. The learner binary-searches a count threshold, so the size may
    fall up to `wordpiece_slack_ratio` below the request (or further, when the
    data cannot support it).
    """
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    word_counts = sorted(word_counts, key=lambda wc: (-wc[1], wc[0]))
    vocab = learner.learn(
        word_counts,
        vocab_size=vocab_size,
        reserved_tokens=list(BERT_HEAD),
        upper_thresh=config.wordpiece_upper_thresh,
        lower_thresh=config.wordpiece_lower_thresh,
        num_iterations=config.wordpiece_num_iterations,
        max_input_tokens=config.wordpiece_max_input_words,
        max_token_length=config.wordpiece_max_token_length,
        max_unique_chars=alphabet_size(word_counts, config.character_coverage),
        slack_ratio=config.wordpiece_slack_ratio,
        include_joiner_token=True,
        joiner=SUFFIX,
    )
    # The learner adds the bare joiner "##"; no word split ever produces it.
    return [token for token in vocab if token != SUFFIX]


# ------------------------------------------------------------------ report


def flavour_report(
    tokenizer: Tokenizer,
    eval_rows: Sequence[Mapping[str, str]],
    nouns: Sequence[str],
    seen_words: Set[str] = frozenset(),
) -> dict:
    """Figures of one vocabulary on held-out morph rows (pretokenized tokenizer).

    The single-token share of user-dictionary nouns is given over all of them
    and over those that occur as a word in the training sample (`seen_words`):
    a noun the learners never saw cannot be expected to be one piece.
    """
    vocab = tokenizer._token_dict
    head = tokenizer.special_ids
    unk = tokenizer._token_unk
    tokens = unk_tokens = words = 0
    used: set[str] = set()
    for row in eval_rows:
        pieces = tokenizer.pieces(row["morphemes"])
        tokens += len(pieces)
        unk_tokens += sum(p == unk for p in pieces)
        words += row["word_starts"].count("1")
        used.update(pieces)
    ordinary = [t for t in vocab if t not in head]
    single = {noun for noun in nouns if len(tokenizer.pieces(noun)) == 1}
    seen = [noun for noun in nouns if noun in seen_words]
    longest = sorted(ordinary, key=lambda t: (-len(t.removeprefix(SUFFIX)), t))[:LONGEST_PIECES]
    return {
        "vocab_size": len(vocab),
        "layout": tokenizer.layout,
        "sentences": len(eval_rows),
        "tokens": tokens,
        "unk_rate": round(unk_tokens / tokens, 6) if tokens else None,
        "tokens_per_sentence": round(tokens / len(eval_rows), 3) if eval_rows else None,
        "tokens_per_word": round(tokens / words, 3) if words else None,
        "vocab_used_share": round(len(used - set(head)) / len(ordinary), 4) if ordinary else None,
        "dictionary_nouns": len(nouns),
        "dictionary_nouns_single_token_share": round(len(single) / len(nouns), 4) if nouns else None,
        "dictionary_nouns_seen": len(seen),
        "dictionary_nouns_seen_single_token_share": (
            round(sum(n in single for n in seen) / len(seen), 4) if seen else None
        ),
        "longest_pieces": longest,
    }


REPORT_ROWS = (
    ("vocab_size", "vocabulary size (lines of vocab.txt)"),
    ("unk_rate", "[UNK] rate (share of tokens)"),
    ("tokens_per_sentence", "mean tokens per sentence"),
    ("tokens_per_word", "mean tokens per word (eojeol)"),
    ("vocab_used_share", "share of vocab used on the held-out sample"),
    ("dictionary_nouns_single_token_share", "share of user-dictionary nouns that are one token"),
    ("dictionary_nouns_seen_single_token_share", "the same, among nouns seen in the training sample"),
)


def report_markdown(report: Mapping) -> str:
    """report.json -> a readable side-by-side table."""
    bert, electra = report["flavours"]["bert"], report["flavours"]["electra"]
    lines = [
        "# Vocabulary report",
        "",
        f"Held-out sentences: {bert['sentences']:,}; training sentences: {report['train_sentences']:,}; "
        f"user-dictionary nouns: {bert['dictionary_nouns']:,} ({bert['dictionary_nouns_seen']:,} seen in training).",
        "",
        "| | BERT (SentencePiece) | ELECTRA (WordPiece) |",
        "|---|---:|---:|",
        f"| requested size | {report['requested']['bert']:,} | {report['requested']['electra']:,} |",
    ]
    for key, label in REPORT_ROWS:
        lines.append(f"| {label} | {bert[key]} | {electra[key]} |")
    for name, flavour in (("BERT", bert), ("ELECTRA", electra)):
        lines += ["", f"## {name}: the {LONGEST_PIECES} longest pieces", ""]
        lines.append(" ".join(f"`{p}`" for p in flavour["longest_pieces"]))
    return "\n".join(lines) + "\n"


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


def train_vocabularies(ctx: StageContext) -> dict:
    """The central step: samples written by Beam -> vocab files and the report."""
    import tempfile

    c = ctx.config.vocab
    out = ctx.output_dir
    # Sorted, so the training input does not depend on how Beam sharded it.
    sentences = sorted(read_lines(filesystems.join(out, "sample", "train-*")))
    if not sentences:
        raise RuntimeError("vocab: the training sample is empty (no morph sentences?)")

    model, bert_size = train_sentencepiece(
        sentences,
        c.bert_vocab_size,
        model_type=c.model_type,
        character_coverage=c.character_coverage,
        max_sentence_bytes=c.max_sentence_bytes,
        num_threads=c.spm_num_threads,
    )
    train_sentences = len(sentences)
    del sentences
    pieces = sentencepiece_pieces(model)
    filesystems.write_bytes(filesystems.join(out, "bert", "spm.model"), model)
    write_lines(filesystems.join(out, "bert", "spm.vocab"), [f"{p}\t{s:g}" for p, s in pieces])
    bert_vocab = sentencepiece_to_wordpiece([p for p, _ in pieces])
    write_lines(filesystems.join(out, "bert", "vocab.txt"), bert_vocab)

    counts = read_word_counts(filesystems.join(out, "electra", "word_counts-*"))
    electra_vocab = learn_wordpiece(counts, c.electra_vocab_size, c)
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
    nouns = sorted(set(read_nouns(filesystems.join(ctx.upstream_dirs[layout.DICTIONARY], layout.USER_CSV))))
    flavours = {}
    with tempfile.TemporaryDirectory(prefix="vocab_report_") as tmp:
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
    summary = {k: v for k, v in report.items() if k != "flavours"}
    summary["flavours"] = {
        name: {k: v for k, v in f.items() if k != "longest_pieces"} for name, f in flavours.items()
    }
    return summary


# ------------------------------------------------------------------ stage


class WriteVocabSamples(beam.PTransform):
    """Morph sentence shards -> sample/train-*.txt, sample/eval-*.jsonl, electra/word_counts-*.tsv."""

    def __init__(self, sentences_glob: str, config: VocabConfig, output_dir: str) -> None:
        super().__init__()
        self._glob, self._config, self._output_dir = sentences_glob, config, output_dir

    def expand(self, pipeline):
        out = self._output_dir
        samples = (
            pipeline
            | "Read" >> beam.io.ReadFromParquet(self._glob, columns=SAMPLE_COLUMNS, validate=False)
            | "Sample" >> SampleSentences(self._config)
        )
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


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    glob = filesystems.join(ctx.upstream_dirs["morph"], "sentences", "part-*.parquet")
    _ = p | "Vocab" >> WriteVocabSamples(glob, ctx.config.vocab, ctx.output_dir)


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
    finalize=train_vocabularies,
)
