"""The vocab stage's report: both vocabularies measured on held-out sentences.

In:  a vocabulary's pretokenized `Tokenizer`, held-out morph rows (morphemes,
     word_starts), the user dictionary's nouns and the training sample's words.
Out: the figures of one vocabulary (`flavour_report`: [UNK] rate, tokens per
     sentence and per eojeol, vocab used, nouns kept whole, longest pieces),
     and report.json as a side-by-side Markdown table (`report_markdown`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from pipeline.text.tokenizer import SUFFIX, Tokenizer

REPORT_VERSION = "vocab_report_v1"
LONGEST_PIECES = 50


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
