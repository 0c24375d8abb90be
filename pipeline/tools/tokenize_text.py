"""`python -m pipeline tokenize`: morphemes, pieces and ids of texts, as pretraining sees them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from pipeline.text.tokenizer import Tokenizer


def tokenize_command(
    texts: Sequence[str],
    vocab_path: str | None,
    user_dictionary_path: str | None = None,
    mode: str = "fast",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print morphemes, pieces and ids of each text; returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    if not vocab_path:
        print(
            "error: no vocabulary: pass --vocab PATH (a vocab.txt in this pipeline's "
            "or KorPatBERT's layout), or run the vocab stage, whose bert/vocab.txt is the default",
            file=err,
        )
        return 2
    try:
        tokenizer = Tokenizer(vocab_path, mode=mode, user_dictionary_path=user_dictionary_path)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=err)
        return 2
    for text in texts:
        tokens = tokenizer.tokenize(text)
        ids, _ = tokenizer.encode(text)
        print(f"morphemes: {' '.join(tokenizer.morphs(text))}", file=out)
        print(f"pieces:    {' '.join(tokens)}", file=out)
        print(f"ids:       {' '.join(map(str, ids))}", file=out)
    return 0


def command(config, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    from pipeline.text.tokenizer import model_tokenizer
    from pipeline.tools.tfrecord_stats import default_vocab

    if args.model:
        # The model's own tokenizer state: exactly what its pretraining text went through.
        if args.vocab or args.user_dict:
            print(
                "error: --model brings its own vocab and user dictionary; drop --vocab/--user-dict",
                file=sys.stderr,
            )
            return 2
        try:
            state = model_tokenizer(args.model)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return tokenize_command(
            args.texts, state["vocab"], state["user_dictionary"], args.mode or state["mode"]
        )
    return tokenize_command(
        args.texts, args.vocab or default_vocab(config), args.user_dict, args.mode or "fast"
    )
