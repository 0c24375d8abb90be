"""Throughput of pipeline.text.tokenizer: mode="korpat" (the reference, re-implemented
plainly) against mode="fast", on the same text.

Usage: python benchmarks/bench_tokenizer.py [--mb N] [--rounds R] [--vocab PATH] [--reference PATH]

The text is the demo corpus's cleaned sentences (`python -m pipeline run`
writes them to output/demo/clean/sentences/), repeated in order until it holds
about N MB of UTF-8 (default 2). Each mode calls `encode(sentence)` (Mecab-ko,
basic split, bidirectional WordPiece, ids) on every sentence; MB/s per core =
UTF-8 bytes of the raw sentences / CPU seconds of this process
(time.process_time, one core). All outputs are compared.

Rounds (default 5): each round makes new tokenizers (the fast mode starts with
an empty cache) and runs the modes back to back on the same text, interleaved
in slices of 1/20 of it (reference, korpat, fast on slice 1, then on slice 2,
...), so that a neighbour's load on a shared machine falls on all of them
alike; each round's speeds and ratios are printed, then the lowest ratio.

Without --vocab, a KorPatBERT-style vocabulary is learned from the demo
morphemes the way KIPI made theirs (SentencePiece BPE, 4,000 pieces, converted
to WordPiece form, KorPatBERT's layout). --reference PATH times a local copy
of KIPI's korpat_tokenizer.py on the same text as well and checks that the
korpat mode gives the same ids (the file is not part of this repository).

Also printed: where the time goes (Mecab alone; the WordPiece step alone, on
pre-split morphemes) and the fast mode on a cold cache (one pass over the
distinct sentences with a new tokenizer).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import pathlib
import sys
import tempfile
import time

from pipeline.text import tokenizer as T

ROOT = pathlib.Path(__file__).resolve().parent.parent

SENTENCES = str(ROOT / "output" / "demo" / "clean" / "sentences" / "*.parquet")


def load_sentences(pattern: str) -> list[str]:
    import pyarrow.parquet as pq

    paths = sorted(glob.glob(pattern))
    if not paths:
        sys.exit(f"no sentences at {pattern}: run `python -m pipeline run` first")
    out: list[str] = []
    for path in paths:
        out += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return out


def learn_vocab(morphemes: list[str], size: int, folder: str) -> str:
    """SentencePiece BPE over the morphemes, written as a KorPatBERT-layout vocab.txt (the vocab stage's code)."""
    from pipeline.pretraining import vocab_learning as vocab

    model, _ = vocab.train_sentencepiece(morphemes, size)
    words = vocab.sentencepiece_to_wordpiece([p for p, _ in vocab.sentencepiece_pieces(model)])
    path = pathlib.Path(folder) / "vocab.txt"
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return str(path)


def timed(fn, items: list[str]) -> tuple[list, float]:
    start = time.process_time()
    out = [fn(x) for x in items]
    return out, time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=2.0, help="MB of text to tokenize per mode")
    parser.add_argument("--rounds", type=int, default=5, help="back-to-back rounds of the timed modes")
    parser.add_argument("--vocab", help="vocab.txt to use (default: learned from the demo morphemes)")
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--sentences", default=SENTENCES, help="Parquet glob with a 'text' column")
    parser.add_argument("--reference", help="a local copy of KIPI's korpat_tokenizer.py to time too")
    args = parser.parse_args(argv)

    distinct = load_sentences(args.sentences)
    distinct_mb = sum(len(s.encode()) for s in distinct) / 1e6
    text, size = [], 0
    while size < args.mb * 1e6:
        for s in distinct:
            text.append(s)
            size += len(s.encode())
    mb = size / 1e6

    with tempfile.TemporaryDirectory() as folder:
        vocab = args.vocab
        if vocab is None:
            import mecab

            tagger = mecab.MeCab()
            vocab = learn_vocab([" ".join(tagger.morphs(s)) for s in distinct], args.vocab_size, folder)
        reference_class = None
        if args.reference:
            spec = importlib.util.spec_from_file_location("korpat_reference", args.reference)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            reference_class = module.Tokenizer
        korpat = T.Tokenizer(vocab, mode="korpat")
        print(
            f"text: {len(distinct):,} demo sentences ({distinct_mb:.2f} MB) repeated to "
            f"{len(text):,} sentences, {mb:.2f} MB; vocab {vocab if args.vocab else 'learned'} "
            f"({len(korpat._token_dict):,} entries, layout {korpat.layout})"
        )
        step = max(1, len(text) // 20)
        slices = [text[i : i + step] for i in range(0, len(text), step)]
        ratios = []
        for round_no in range(1, args.rounds + 1):
            tokenizers = {
                "korpat": T.Tokenizer(vocab, mode="korpat"),
                "fast": T.Tokenizer(vocab, mode="fast"),
            }
            if reference_class is not None:
                tokenizers = {"reference": reference_class(vocab_path=vocab, cased=True), **tokenizers}
            for tok in tokenizers.values():
                tok.encode("본 발명.")  # Mecab is loaded outside the timings
            seconds = dict.fromkeys(tokenizers, 0.0)
            out = {name: [] for name in tokenizers}
            for part in slices:
                for name, tok in tokenizers.items():
                    ids, s_ = timed(tok.encode, part)
                    seconds[name] += s_
                    out[name] += ids
            if round_no == 1:
                if out["fast"] != out["korpat"]:
                    sys.exit("fast mode and korpat mode disagree")
                if "reference" in out and out["reference"] != out["korpat"]:
                    sys.exit("the korpat mode and KIPI's reference disagree")
            base = "reference" if "reference" in seconds else "korpat"
            ratio = seconds[base] / seconds["fast"]
            ratios.append(ratio)
            speeds = ", ".join(f"{name} {mb / sec:.2f}" for name, sec in seconds.items())
            hit_rate = tokenizers["fast"].cache_stats()["hit_rate"]
            print(
                f"round {round_no}: MB/s per core {speeds} (fast cache hit rate {hit_rate:.3f}); "
                f"fast = {ratio:.2f}x {base}, {seconds['korpat'] / seconds['fast']:.2f}x korpat"
            )
        base = "KIPI's reference" if reference_class is not None else "the korpat mode (no --reference)"
        print(
            f"fast mode against {base}: lowest {min(ratios):.2f}x, highest {max(ratios):.2f}x over "
            f"{len(ratios)} rounds (target >= 3x in every round); outputs identical"
        )
        fast = T.Tokenizer(vocab, mode="fast")
        fast.encode(text[0])

        cold = T.Tokenizer(vocab, mode="fast")
        cold.morphs(distinct[0])  # load Mecab; the word cache stays empty
        _, cold_s = timed(cold.encode, distinct)
        print(
            f"fast mode, cold cache, one pass over the distinct sentences: {distinct_mb / cold_s:.2f} MB/s per core"
        )

        _, slow_mecab_s = timed(korpat.morphs, text)
        _, fast_mecab_s = timed(fast.morphs, text)
        _, wakati_s = timed(fast._mecab.wakati, text)  # what the fast mode's encode() reads
        print(
            f"Mecab alone: python-mecab-ko morphs() {mb / slow_mecab_s:.2f} MB/s per core, "
            f"fast morphs() {mb / fast_mecab_s:.2f}, -Owakati string {mb / wakati_s:.2f}"
        )
        split = [korpat.morpheme_text(s) for s in distinct]
        split = (split * (len(text) // len(distinct) + 1))[: len(text)]
        for mode in T.MODES:
            pre = T.Tokenizer(vocab, mode=mode, pretokenized=True)
            _, pre_s = timed(pre.encode, split)
            print(f"WordPiece step alone ({mode}, pre-split morphemes): {mb / pre_s:.2f} MB/s per core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
