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
