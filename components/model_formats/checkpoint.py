"""Start training from an existing model: `train.init_checkpoint` / `finetune --init`.

Accepted folders (`find_source` tells them apart):

- Google layout (google-research/bert or KorPatBERT's release): any `*.ckpt*`
  checkpoint prefix (the folder's `checkpoint` state file picks among several,
  else the highest step), `bert_config.json` or one `*_config.json` such as
  KorPatBERT's `korpat_bert_config.json`, and `vocab.txt` or one `*vocab*.txt`
  (`korpat_vocab.txt`). ELECTRA: our google/ folder (bert_config.json +
  generator_config.json).
- A Hugging Face folder written by this project (`hf/`: config.json + model.safetensors).
- Our own export folder (config.json + checkpoint/pretrainer.*).

`restore(model, path)` fills every weight of a pretrainer built for the
checkpoint's config (encoder and both pretraining heads; ELECTRA's generator
too) and checks that nothing is missing and nothing is left over; optimizer
slots, `global_step` and AMP state in the file are ignored (training starts
with a fresh optimizer at step 0). Every problem is a `ModelFormatError` naming
the file or variable.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from typing import Any, NamedTuple

from components.model_formats import ModelFormatError

log = logging.getLogger(__name__)


class Source(NamedTuple):
    kind: str  # "google", "hf" or "export"
    folder: str
    weights: str  # checkpoint prefix, safetensors file, or our pretrainer prefix
    config: str  # the config file
    vocab: str | None  # the vocab file next to it (None if there is none)


def _one(folder: str, patterns: tuple[str, ...], what: str) -> str | None:
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(folder, pattern)))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ModelFormatError(
                f"{folder}: several {what} files ({', '.join(map(os.path.basename, found))})"
            )
    return None


def _checkpoint_prefix(path: str) -> str | None:
    """The checkpoint prefix `path` names or holds (None if none)."""
    import tensorflow as tf

    if os.path.isfile(path + ".index"):
        return path
    if not os.path.isdir(path):
        return None
    prefixes = sorted(p[: -len(".index")] for p in glob.glob(os.path.join(path, "*.ckpt*.index")))
    if not prefixes:
        return None
    if len(prefixes) == 1:
        return prefixes[0]
    latest = tf.train.latest_checkpoint(path)
    if latest and latest in prefixes:
        return latest

    def step(prefix: str) -> int:
        m = re.search(r"-(\d+)$", prefix)
        return int(m.group(1)) if m else -1

    return max(prefixes, key=step)


def find_source(path: str) -> Source:
    """What kind of model folder `path` is, and its files."""
    if not path or not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise ModelFormatError(f"init checkpoint {path!r} does not exist")
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    if os.path.isfile(os.path.join(folder, "config.json")) and os.path.isfile(
        os.path.join(folder, "model.safetensors")
    ):
        return Source(
            "hf",
            folder,
            os.path.join(folder, "model.safetensors"),
            os.path.join(folder, "config.json"),
            _one(folder, ("vocab.txt",), "vocab"),
        )
    if os.path.isfile(os.path.join(folder, "config.json")) and os.path.isfile(
        os.path.join(folder, "checkpoint", "pretrainer.index")
    ):
        return Source(
            "export",
            folder,
            os.path.join(folder, "checkpoint", "pretrainer"),
            os.path.join(folder, "config.json"),
            _one(folder, ("vocab.txt",), "vocab"),
        )
    prefix = _checkpoint_prefix(path)
    if prefix is None:
        raise ModelFormatError(
            f"{path}: unknown model format: no *.ckpt* checkpoint, no config.json + model.safetensors "
            "(Hugging Face) and no config.json + checkpoint/pretrainer (an export of this pipeline)"
        )
    config = _one(folder, ("bert_config.json", "*_config.json", "config.json"), "config")
    if config is None:
        raise ModelFormatError(f"{folder}: a checkpoint but no bert_config.json or *_config.json beside it")
    vocab = _one(folder, ("vocab.txt", "*vocab*.txt"), "vocab")
    return Source("google", folder, prefix, config, vocab)


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ModelFormatError(f"{path}: not a readable JSON config ({error})") from error


_HF_ACTIVATIONS = {
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "gelu": "gelu",
    "relu": "relu",
    "tanh": "tanh",
}


def _our_config(raw: dict[str, Any], model_type: str, path: str, hf: bool) -> dict[str, Any]:
    from components.trainer.models import BERT_CONFIG_KEYS, KORPAT_EXTRA_KEYS, check_config, complete_config

    config = {
        k: v
        for k, v in raw.items()
        if k in BERT_CONFIG_KEYS or k in KORPAT_EXTRA_KEYS or k == "embedding_size"
    }
    if hf:
        act = raw.get("hidden_act")
        if act not in _HF_ACTIVATIONS:
            raise ModelFormatError(f"{path}: hidden_act {act!r} is not one this trainer builds")
        exact = act == "gelu"
        if exact != (model_type == "electra") and act.startswith("gelu"):
            log.warning(
                "%s: hidden_act %s; this %s model trains with the %s gelu",
                path,
                act,
                model_type,
                "exact" if model_type == "electra" else "tanh-approximated",
            )
        config["hidden_act"] = _HF_ACTIVATIONS[act]
        if raw.get("model_type") not in (None, model_type):
            raise ModelFormatError(f"{path}: a {raw.get('model_type')} model, this run trains {model_type}")
    else:
        unknown = sorted(set(raw) - set(config) - {"model_type", "max_seq_length", "step", "generator"})
        if unknown:
            raise ModelFormatError(f"{path}: unknown config keys {unknown}")
        if raw.get("model_type") not in (None, model_type):
            raise ModelFormatError(f"{path}: a {raw.get('model_type')} model, this run trains {model_type}")
    try:
        check_config({**config, "model_type": model_type})
    except ValueError as error:
        raise ModelFormatError(f"{path}: {error}") from error
    return complete_config(config, model_type)


def read_source_config(path: str, model_type: str = "bert") -> dict[str, dict[str, Any]]:
    """{"encoder": config[, "generator": config]} of the model in `path`, in our config's keys."""
    source = find_source(path)
    raw = _read_json(source.config)
    configs = {"encoder": _our_config(raw, model_type, source.config, source.kind == "hf")}
    if model_type == "electra":
        if source.kind == "export":
            generator, where = raw.get("generator"), source.config
        elif source.kind == "hf":
            where = os.path.join(source.folder, "generator", "config.json")
            generator = _read_json(where) if os.path.isfile(where) else None
        else:
            where = os.path.join(source.folder, "generator_config.json")
            generator = _read_json(where) if os.path.isfile(where) else None
        if generator is None:
            raise ModelFormatError(
                f"{source.folder}: an ELECTRA start needs the generator's config ({where})"
            )
        configs["generator"] = _our_config(generator, "electra", where, source.kind == "hf")
    return configs


def read_tensors(source: Source, model) -> dict[str, Any]:
    """Google-named tensors of `source` for `model`'s weights."""
    from components.model_formats import google_bert, huggingface

    if source.kind == "google":
        return google_bert.read_checkpoint(source.weights)
    shapes = {w.name: w.shape for w in google_bert.pretrainer_weights(model)}
    electra = hasattr(model, "discriminator_network")
    if not electra:
        state = huggingface.read_safetensors(source.weights)
        return huggingface.google_from_hf(state, shapes, "bert", source.weights)
    disc = huggingface.read_safetensors(source.weights)
    gen_path = os.path.join(source.folder, "generator", huggingface.WEIGHTS_FILE)
    if not os.path.isfile(gen_path):
        raise ModelFormatError(f"{source.folder}: an ELECTRA start needs the generator ({gen_path})")
    gen = huggingface.read_safetensors(gen_path)
    names = huggingface._parts(shapes, electra=True)
    out = huggingface.google_from_hf(
        disc, {n: shapes[n] for n in names["discriminator"]}, "discriminator", source.weights
    )
    generator_only = [n for n in names["generator"] if not n.startswith("electra/embeddings/")]
    out.update(huggingface.google_from_hf(gen, {n: shapes[n] for n in generator_only}, "generator", gen_path))
    return out


def restore(model, path: str) -> Source:
    """Fill `model` (a pretrainer built for `read_source_config(path)`) from `path`."""
    import tensorflow as tf

    from components.model_formats import google_bert

    source = find_source(path)
    if source.kind == "export":
        try:
            tf.train.Checkpoint(model=model).read(source.weights).assert_existing_objects_matched()
        except AssertionError as error:
            raise ModelFormatError(f"{source.weights}: {error}") from error
        return source
    tensors = read_tensors(source, model)
    google_bert.assign(google_bert.pretrainer_weights(model), tensors, source.weights)
    log.info("restored %d weights from %s (%s layout)", len(tensors), source.weights, source.kind)
    return source


def check_vocab(path: str, vocab_path: str) -> None:
    """ModelFormatError naming both files when `vocab_path` is not the checkpoint's vocab
    (size or special-token ids differ). A checkpoint without a vocab file passes."""
    from pipeline.text.tokenizer import load_vocab

    source = find_source(path)
    if source.vocab is None:
        return
    theirs, ours = load_vocab(source.vocab), load_vocab(vocab_path)
    problems = []
    if len(theirs) != len(ours):
        problems.append(f"{len(theirs)} tokens against {len(ours)}")
    for token in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
        if theirs.get(token) != ours.get(token):
            problems.append(f"{token} is id {theirs.get(token)} against {ours.get(token)}")
    if problems:
        raise ModelFormatError(
            f"vocab {vocab_path} does not match the checkpoint's {source.vocab}: "
            + "; ".join(problems)
            + " (point tfrecords.bert_vocab at the checkpoint's vocab)"
        )


def detect_model_type(path: str) -> str:
    """'bert' or 'electra' for a model folder."""
    import tensorflow as tf

    source = find_source(path)
    if source.kind in ("hf", "export"):
        return _read_json(source.config).get("model_type", "bert")
    names = [name for name, _ in tf.train.list_variables(source.weights)]
    return "electra" if any(n.startswith("electra/") for n in names) else "bert"


def _built_pretrainer(path: str, model_type: str):
    """(pretrainer with all its variables, its encoder, config) for the model in `path`."""
    from components.model_formats.package import dummy_features
    from components.trainer.models import pretrainer_from_config

    configs = read_source_config(path, model_type)
    config = {**configs["encoder"], **({"generator": configs["generator"]} if "generator" in configs else {})}
    model, encoder = pretrainer_from_config(config)
    model(dummy_features(), training=False)
    return model, encoder, config


def check_weights(path: str, model_type: str = "bert") -> None:
    """ModelFormatError naming the variables of a Google-layout or hf/ folder that the model
    its config describes cannot take (missing, mis-shaped, or without a place), so that
    `train.init_checkpoint` fails before any stage runs rather than inside the trainer.
    The model is built and the tensors read; nothing is assigned. An export of this
    pipeline (a previous phase) is checked by the trainer's own restore."""
    from components.model_formats import google_bert

    source = find_source(path)
    if source.kind == "export":
        return
    model, _, _ = _built_pretrainer(path, model_type)
    google_bert.check_fit(google_bert.pretrainer_weights(model), read_tensors(source, model), source.weights)


def load_encoder(path: str, model_type: str | None = None):
    """(encoder with its weights, config) from an export, a Google-layout or an hf/ folder:
    what `finetune --init` fine-tunes. The whole pretrainer is built and restored, so every
    weight is checked; ELECTRA's pooler, which no format carries, keeps its initial values."""
    source = find_source(path)
    if source.kind == "export":
        from components.trainer.export import load_encoder as load_export

        return load_export(source.folder)
    model, encoder, config = _built_pretrainer(path, model_type or detect_model_type(path))
    restore(model, path)
    return encoder, config
