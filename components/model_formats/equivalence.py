"""The same input ids through every format of an export; max abs differences.

    python -m components.model_formats.equivalence EXPORT_DIR [--json] [--google-modeling]

Reference: the pretrainer rebuilt from the export's `checkpoint/pretrainer`.
Compared: `saved_model/` (sequence and pooled output), `hf/` through
transformers' PyTorch classes (BertForPreTraining; ElectraForPreTraining and,
from hf/generator/, ElectraForMaskedLM), and `google/` restored into a fresh
pretrainer by `checkpoint.restore`. Outputs: sequence_output, pooled_output
(BERT; ELECTRA has no trained pooler and neither Google's nor transformers'
ELECTRA has one), mlm_logits at the masked positions (ELECTRA: the
generator's), nsp_logits (BERT) or disc_logits (ELECTRA). `--google-modeling`
adds, for BERT, `google/` restored by google-research/bert's own modeling.py
(code that is not ours; its MLM/NSP outputs are log-probabilities, compared
with ours through log_softmax). Needs torch, transformers and bert-tensorflow
(requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np


def sample_inputs(vocab_size: int, seq_length: int = 24, batch: int = 3, predictions: int = 4, seed: int = 0):
    """Random ids (5..vocab), a padded row, two segments, sorted masked positions."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(batch, seq_length)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, seq_length * 2 // 3 :] = 0
    types = np.zeros_like(ids)
    types[:, seq_length // 2 :] = 1
    positions = np.sort(rng.choice(np.arange(1, seq_length // 2), size=(batch, predictions)), axis=1).astype(
        np.int32
    )
    return {
        "input_word_ids": ids,
        "input_mask": mask,
        "input_type_ids": types,
        "masked_lm_positions": positions,
    }


def keras_outputs(model, inputs: dict) -> dict[str, np.ndarray]:
    """Our pretrainer's outputs (no dropout, no ELECTRA sampling)."""
    import tensorflow as tf

    encoder_inputs = [inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"]]
    positions = tf.constant(inputs["masked_lm_positions"])
    if not hasattr(model, "discriminator_network"):
        out = model({**inputs}, training=False)
        return {
            "sequence_output": out["sequence_output"].numpy(),
            "pooled_output": out["pooled_output"].numpy(),
            "mlm_logits": out["mlm_logits"].numpy(),
            "nsp_logits": out["next_sentence"].numpy(),
        }
    disc = model.discriminator_network(encoder_inputs, training=False)["sequence_output"]
    gen = model.generator_network(encoder_inputs, training=False)["sequence_output"]
    logits = model.discriminator_head(model.discriminator_projection(disc))
    return {
        "sequence_output": disc.numpy(),
        "mlm_logits": model.masked_lm(gen, positions).numpy(),
        "disc_logits": tf.squeeze(logits, -1).numpy(),
    }


def saved_model_outputs(path: str, inputs: dict) -> dict[str, np.ndarray]:
    import tensorflow as tf

    serve = tf.saved_model.load(path).signatures["serving_default"]
    out = serve(**{k: tf.constant(inputs[k]) for k in ("input_word_ids", "input_mask", "input_type_ids")})
    return {k: out[k].numpy() for k in ("sequence_output", "pooled_output")}


def hf_outputs(folder: str, inputs: dict, electra: bool) -> dict[str, np.ndarray]:
    import torch
    import transformers

    def check(info, where):
        problems = {k: v for k, v in info.items() if k != "error_msgs" and v} or (
            {"error_msgs": info["error_msgs"]} if info.get("error_msgs") else {}
        )
        if problems:
            raise AssertionError(f"{where}: {problems}")

    feed = {
        "input_ids": torch.tensor(inputs["input_word_ids"], dtype=torch.long),
        "attention_mask": torch.tensor(inputs["input_mask"], dtype=torch.long),
        "token_type_ids": torch.tensor(inputs["input_type_ids"], dtype=torch.long),
    }
    positions = torch.tensor(inputs["masked_lm_positions"], dtype=torch.long)

    def gather(logits):
        index = positions[:, :, None].expand(-1, -1, logits.shape[-1])
        return torch.gather(logits, 1, index).numpy()

    with torch.no_grad():
        if not electra:
            model, info = transformers.BertForPreTraining.from_pretrained(folder, output_loading_info=True)
            check(info, folder)
            model.eval()
            out = model(**feed, output_hidden_states=True)
            base = model.bert(**feed)
            return {
                "sequence_output": base.last_hidden_state.numpy(),
                "pooled_output": base.pooler_output.numpy(),
                "mlm_logits": gather(out.prediction_logits),
                "nsp_logits": out.seq_relationship_logits.numpy(),
            }
        disc, info = transformers.ElectraForPreTraining.from_pretrained(folder, output_loading_info=True)
        check(info, folder)
        generator_dir = os.path.join(folder, "generator")
        gen, info = transformers.ElectraForMaskedLM.from_pretrained(generator_dir, output_loading_info=True)
        check(info, generator_dir)
        disc.eval()
        gen.eval()
        out = disc(**feed, output_hidden_states=True)
        return {
            "sequence_output": out.hidden_states[-1].numpy(),
            "mlm_logits": gather(gen(**feed).logits),
            "disc_logits": out.logits.numpy(),
        }


def google_outputs(folder: str, config: dict, inputs: dict) -> dict[str, np.ndarray]:
    """google/ restored into a fresh pretrainer by our importer."""
    from components.model_formats.checkpoint import restore
    from components.model_formats.package import dummy_features
    from components.trainer.models import pretrainer_from_config

    model, _ = pretrainer_from_config(config)
    model(dummy_features(), training=False)
    restore(model, folder)
    return keras_outputs(model, inputs)


def google_modeling_outputs(folder: str, inputs: dict) -> dict[str, np.ndarray]:
    """google/ restored by google-research/bert's own modeling.py and run_pretraining.py's
    heads (components/model_formats/google_reference.py, in a TF1-style child process);
    its MLM and NSP outputs are log-probabilities, so they are returned as "mlm_logits" /
    "nsp_logits" to be compared with ours through log_softmax."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, "inputs.npz"), **inputs)
        env = {
            **os.environ,
            "TF_USE_LEGACY_KERAS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore",
        }
        command = [sys.executable, "-m", "components.model_formats.google_reference", "restore", folder]
        done = subprocess.run(
            [*command, os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "out.npz")],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"google-research/bert could not restore {folder}: {done.stderr[-2000:]}")
        theirs = dict(np.load(os.path.join(tmp, "out.npz")))
    return {
        "sequence_output": theirs["sequence_output"],
        "pooled_output": theirs["pooled_output"],
        "mlm_logits": theirs["mlm_log_probs"],
        "nsp_logits": theirs["nsp_log_probs"],
        "variables": theirs["variables"],
    }


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def max_diffs(reference: dict, other: dict) -> dict[str, float]:
    return {k: float(np.max(np.abs(reference[k] - other[k]))) for k in other if k in reference}


def compare(export_dir: str, formats=("saved_model", "hf", "google")) -> dict[str, Any]:
    """{format: {output: max abs diff against the pretrainer}}."""
    from components.model_formats.package import load_pretrainer

    model, config = load_pretrainer(export_dir)
    inputs = sample_inputs(config["vocab_size"])
    reference = keras_outputs(model, inputs)
    encoder = (
        model.discriminator_network if hasattr(model, "discriminator_network") else model.encoder_network
    )
    enc = encoder([inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"]], training=False)
    reference["pooled_output"] = enc["pooled_output"].numpy()
    electra = config.get("model_type") == "electra"
    table: dict[str, Any] = {}
    if "saved_model" in formats:
        table["saved_model"] = max_diffs(
            reference, saved_model_outputs(os.path.join(export_dir, "saved_model"), inputs)
        )
    if "hf" in formats:
        table["hf"] = max_diffs(reference, hf_outputs(os.path.join(export_dir, "hf"), inputs, electra))
    if "google" in formats:
        table["google"] = max_diffs(
            reference, google_outputs(os.path.join(export_dir, "google"), config, inputs)
        )
    if "google_modeling" in formats and not electra:
        theirs = google_modeling_outputs(os.path.join(export_dir, "google"), inputs)
        ours = {k: log_softmax(v) if k in ("mlm_logits", "nsp_logits") else v for k, v in reference.items()}
        table["google-research/bert modeling.py (log-probs for mlm, nsp)"] = max_diffs(
            ours, {k: v for k, v in theirs.items() if k != "variables"}
        )
    return table


def markdown(table: dict[str, Any]) -> str:
    outputs = sorted({k for row in table.values() for k in row})
    lines = ["| format | " + " | ".join(outputs) + " |", "|---" * (len(outputs) + 1) + "|"]
    for name, row in table.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{row[k]:.1e}" if k in row else "-" for k in outputs) + " |"
        )
    return "\n".join(lines)


def tokenizer_differences(hf_dir: str, vocab_path: str, morpheme_lines) -> dict[str, Any]:
    """transformers' tokenizer from `hf_dir` against pipeline.text.tokenizer (pretokenized) on
    morpheme-split lines: identical lines, and each differing word classified as
    `backward_split` (KorPatBERT's rule kept the backward split where BertTokenizer
    splits forward only), `unk` ([UNK] per unknown word there, per unknown
    character here) or `other` (with examples; expected to be none)."""
    from transformers import AutoTokenizer

    from pipeline.text.tokenizer import Tokenizer, basic_split, forward_pieces, load_vocab

    hf = AutoTokenizer.from_pretrained(hf_dir)
    ours = Tokenizer(vocab_path, cased=True, pretokenized=True)
    vocab = load_vocab(vocab_path)
    counts = {"lines": 0, "identical_lines": 0, "backward_split": 0, "unk": 0, "other": 0}
    examples = []
    for line in morpheme_lines:
        counts["lines"] += 1
        if hf.tokenize(line) == ours.tokenize(line)[1:-1]:
            counts["identical_lines"] += 1
            continue
        for word in basic_split(line):
            theirs, mine = hf.tokenize(word), ours.tokenize(word)[1:-1]
            if theirs == mine:
                continue
            if "[UNK]" in theirs or "[UNK]" in mine:
                counts["unk"] += 1
            elif theirs == forward_pieces(word, vocab):
                counts["backward_split"] += 1
            else:
                counts["other"] += 1
                examples.append({"word": word, "transformers": theirs, "ours": mine})
    return {**counts, "other_examples": examples[:20]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.model_formats.equivalence", description=__doc__.split("\n")[0]
    )
    parser.add_argument("export_dir")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a markdown table.")
    parser.add_argument(
        "--google-modeling",
        action="store_true",
        help="Add a BERT row for google/ restored by google-research/bert's own modeling.py "
        "(needs the bert-tensorflow wheel of requirements-dev.txt).",
    )
    args = parser.parse_args(argv)
    from pipeline import logs

    logs.configure(verbose=False)  # before TensorFlow starts: no CUDA/absl lines on a CPU machine
    formats = ("saved_model", "hf", "google") + (("google_modeling",) if args.google_modeling else ())
    table = compare(args.export_dir, formats)
    print(json.dumps(table, indent=2) if args.json else markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
