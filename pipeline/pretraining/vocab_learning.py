"""How the vocab stage samples its sentences and learns its two vocabularies.

In:  morph sentences (their position for the seeded sample, their morphemes
     for the training words); the training sample (basic-split lines) and its
     word counts.
Out: a sentence's sample band (`sample_position`, `sample_band`) and its
     training lines (`training_words`, `split_long`); KorPatBERT's
     SentencePiece model and its WordPiece-form vocab.txt lines
     (`train_sentencepiece`, `sentencepiece_to_wordpiece`); KorPatELECTRA's
     WordPiece vocab (`learn_wordpiece`).

Sampling (run in Beam by the stage): each sentence gets u = hash(seed, doc_id, paragraph_index,
sentence_index) in [0, 1). With N sentences in all, u < eval/N goes to the
held-out sample and eval/N <= u < (eval + train)/N to the training sample:
uniform, seeded, the same on every runner and rerun, and nothing but a count
is held centrally. Training sentences are basic-split exactly as the tokenizer
splits them (punctuation and Hanja become their own words), so SentencePiece
and WordPiece learn pieces inside the words the tokenizer will see. Sentences
longer than `max_sentence_bytes` (SentencePiece silently skips them) are cut
at word boundaries and counted (`long_sentences_split`); a single word longer
than that is dropped and counted (`long_words_dropped`).

Training (one central step, memory bounded by `sample_sentences`):
SentencePiece with identity normalisation (no NFKC, no lower-casing), the
configured character coverage, and a fixed thread count (its result depends on
the thread count, but is byte-identical across reruns with the same one); the
WordPiece learner with its alphabet sized by the same character coverage
instead of its 1000-character default, and its binary search over the count
threshold walked with the next levels' thresholds learned at once in several
processes (`threshold_search`: the same thresholds on the same path, so the
same vocabulary as the learner's own search). When the data cannot support the
requested size, SentencePiece's maximum is used (the manifest records
requested and actual sizes, and a warning is logged).
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import io
import multiprocessing
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from pipeline.config import VocabConfig
from pipeline.text.tokenizer import BERT_HEAD, KORPAT_HEAD, SUFFIX, basic_split

SAMPLE_VERSION = "hash_band_sample_v1"
SPM_EXPORT_VERSION = "spm_to_wordpiece_v1"
WORDPIECE_VERSION = "tftext_wordpiece_learner_v1"

SPM_SPACE = "\u2581"  # ▁, SentencePiece's word-start mark

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
    on_read: Callable[[], None] | None = None,
) -> tuple[bytes, int]:
    """SentencePiece on space-separated words, KorPatBERT's head placed first.

    Returns (model bytes, actual vocab size). The five BERT specials are
    user-defined symbols, so the pieces start `<unk> <s> </s> [PAD] [UNK] [CLS]
    [SEP] [MASK]`. With `cap_vocab_size`, a size the data cannot support is
    lowered to SentencePiece's stated maximum instead of failing. `on_read`
    is called once SentencePiece has read every sentence (it reads them all
    before it trains, taking Python's GIL for each): from then on it trains in
    C++ without the GIL.
    """
    import sentencepiece as spm

    sentences = list(sentences)
    while True:
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=_read_then(sentences, on_read),
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


def _read_then(items: Sequence[str], done: Callable[[], None] | None) -> Iterator[str]:
    yield from items
    if done is not None:
        done()


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
    word_counts: Sequence[tuple[str, int]], vocab_size: int, config: VocabConfig, processes: int = 1
) -> list[str]:
    """tensorflow-text's WordPiece learner with Korean-safe settings; [PAD] [UNK] [CLS] [SEP] [MASK] first.

    The alphabet is sized by character coverage (the learner's default keeps
    1000 characters, fewer than Korean syllables plus Hanja); nothing is
    lower-cased. The learner binary-searches a count threshold, so the size may
    fall up to `wordpiece_slack_ratio` below the request (or further, when the
    data cannot support it). `learner.learn`'s own steps, with its search run by
    `threshold_search` in up to `processes` processes (same result).
    """
    learner = _wordpiece_learner()
    word_counts = sorted(word_counts, key=lambda wc: (-wc[1], wc[0]))
    params = learner.Params(
        upper_thresh=config.wordpiece_upper_thresh,
        lower_thresh=config.wordpiece_lower_thresh,
        num_iterations=config.wordpiece_num_iterations,
        max_input_tokens=config.wordpiece_max_input_words,
        max_token_length=config.wordpiece_max_token_length,
        max_unique_chars=alphabet_size(word_counts, config.character_coverage),
        vocab_size=vocab_size,
        slack_ratio=config.wordpiece_slack_ratio,
        include_joiner_token=True,
        joiner=SUFFIX,
        reserved_tokens=list(BERT_HEAD),
    )
    upper, lower = learner.get_search_threshs(word_counts, params.upper_thresh, params.lower_thresh)
    all_counts = learner.get_input_words(word_counts, params.reserved_tokens, params.max_token_length)
    allowed = learner.get_allowed_chars(all_counts, params.max_unique_chars)
    filtered = learner.filter_input_words(all_counts, allowed, params.max_input_tokens)
    vocab = threshold_search(filtered, lower, upper, params, processes)
    # The learner adds the bare joiner "##"; no word split ever produces it.
    return [token for token in vocab if token != SUFFIX]


def _wordpiece_learner():
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

    return wordpiece_tokenizer_learner_lib


# Below this many distinct words the threshold search runs in the calling process.
PARALLEL_MIN_WORDS = 50_000


def probe_levels(processes: int) -> int:
    """How many levels of the search one round learns at once: a round of L levels
    learns 2**L - 1 thresholds side by side (1 process: 1 level, 3: 2, 7: 3)."""
    levels = 1
    while 2 ** (levels + 1) - 1 <= processes:
        levels += 1
    return levels


def search_tree(lower: int, upper: int, levels: int) -> list[tuple[int, int]]:
    """The (lower, upper) bounds the learner's binary search may reach from
    (lower, upper) within `levels` steps, breadth first (duplicates possible)."""
    nodes, frontier = [], [(lower, upper)]
    for _ in range(levels):
        nodes += frontier
        following = []
        for low, high in frontier:
            thresh = (low + high) // 2
            following += [(thresh + 1, high), (low, thresh - 1)]
        frontier = following
    return nodes


def threshold_search(word_counts, lower: int, upper: int, params, processes: int = 1) -> list[str]:
    """tensorflow-text's `learn_binary_search`: the same thresholds on the same path,
    so the same vocabulary. Each probe (`learn_with_thresh`) walks every word
    `num_iterations` times in pure Python; with 3 or more `processes`, each round
    learns the thresholds of the next `probe_levels` levels at once in that many
    processes and walks down them, so the search takes fewer rounds."""
    learner = _wordpiece_learner()
    # A small sample's probes take seconds: not worth starting processes for.
    levels = probe_levels(processes) if len(word_counts) >= PARALLEL_MIN_WORDS else 1
    slack = max(params.slack_ratio * params.vocab_size, 0)
    pool = None
    if levels > 1:
        # spawn: the caller may be a Beam worker with threads, which fork would copy badly
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=2**levels - 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_hold_words,
            initargs=(word_counts, params),
        )
    try:
        while True:
            probes = {}
            if pool is not None:
                for low, high in search_tree(lower, upper, levels):
                    thresh = (low + high) // 2
                    if thresh not in probes:
                        probes[thresh] = pool.submit(_learn_held, thresh)
            for _ in range(levels):
                thresh = (lower + upper) // 2
                if pool is None:
                    vocab = learner.learn_with_thresh(word_counts, thresh, params)
                else:
                    vocab = probes[thresh].result()
                size = len(vocab)
                within = size <= params.vocab_size and params.vocab_size - size <= slack
                if within or lower >= upper or thresh <= 1:
                    return vocab
                lower, upper = (thresh + 1, upper) if size > params.vocab_size else (lower, thresh - 1)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


_HELD: dict = {}


def _hold_words(word_counts, params) -> None:
    _HELD["words"], _HELD["params"] = word_counts, params


def _learn_held(thresh: int) -> list[str]:
    return _wordpiece_learner().learn_with_thresh(_HELD["words"], thresh, _HELD["params"])
