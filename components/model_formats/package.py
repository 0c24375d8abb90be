"""The export folder as a whole model package.

    <export>/saved_model/            TF SavedModel (encoder; serving_default signature)
    <export>/checkpoint/             our object-based checkpoints (encoder, pretrainer)
    <export>/config.json             the model's config (KorPatBERT's keys + model_type, ...)
    <export>/vocab.txt, training.json
    <export>/user.dic, user.csv      the Mecab-ko user dictionary pretraining used (when there was one)
    <export>/tokenizer_settings.json the tokenizer rule, mode, casing and Mecab settings
    <export>/google/                 Google BERT / ELECTRA checkpoint layout (google_bert.py)
    <export>/hf/                     Hugging Face transformers folder (huggingface.py)

`write_formats` writes google/, hf/ and the tokenizer state from a pretrainer
in memory (the trainer calls it at export time); `export_folder` rebuilds the
pretrainer from an existing export's `checkpoint/pretrainer` and writes the
formats asked for, into the export or into another folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from components.model_formats import ModelFormatError

FORMATS = ("saved_model", "google", "hf")
TOKENIZER_SETTINGS = "tokenizer_settings.json"
USER_DIC = "user.dic"
USER_CSV = "user.csv"


def tokenizer_settings(vocab_path: str, user_dic: str | None, mode: str = "fast") -> dict[str, Any]:
    """What tokenises text exactly as pretraining did (pipeline.text.tokenizer.Tokenizer's arguments)."""
    from importlib import metadata

    from pipeline.text.tokenizer import TOKENIZER_VERSION, load_vocab, vocab_layout

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "rule": TOKENIZER_VERSION,
        "mode": mode,
        "cased": True,
        "vocab": "vocab.txt",
        "vocab_layout": vocab_layout(load_vocab(vocab_path)),
        "mecab": {
            "analyzer": "python-mecab-ko",
            "analyzer_version": version("python-mecab-ko"),
            "system_dictionary": "mecab-ko-dic (python-mecab-ko-dic)",
            "system_dictionary_version": version("python-mecab-ko-dic"),
            "user_dictionary": USER_DIC if user_dic else None,
            "user_dictionary_source": USER_CSV if user_dic else None,
            "morphemes_joined_by": " ",
        },
    }


def write_tokenizer_state(
    folder: str, vocab_path: str, user_dic: str | None, user_csv: str | None, mode: str = "fast"
) -> dict[str, str]:
    """user.dic, user.csv and tokenizer_settings.json into `folder`; returns {name: path} written."""
    import tensorflow as tf

    written = {}
    for name, path in ((USER_DIC, user_dic), (USER_CSV, user_csv)):
        if path:
            if not tf.io.gfile.exists(path):
                raise ModelFormatError(f"tokenizer file {path} does not exist")
            target = os.path.join(folder, name)
            if os.path.abspath(path) != os.path.abspath(target):
                tf.io.gfile.copy(path, target, overwrite=True)
            written[name] = target
    settings = tokenizer_settings(vocab_path, user_dic, mode)
    target = os.path.join(folder, TOKENIZER_SETTINGS)
    with tf.io.gfile.GFile(target, "w") as f:
        json.dump(settings, f, indent=2, ensure_ascii=False)
        f.write("\n")
    written[TOKENIZER_SETTINGS] = target
    return written


def _local(folder: str):
    """(local folder to write, upload-afterwards callback) for a possibly remote folder."""
    if "://" not in folder:
        os.makedirs(folder, exist_ok=True)
        return folder, lambda: None
    import tensorflow as tf

    from pipeline.io.filesystems import scratch_folder

    scratch = scratch_folder("export_")

    def upload():
        for dirpath, _, names in os.walk(scratch):
            for name in names:
                src = os.path.join(dirpath, name)
                dst = os.path.join(folder, os.path.relpath(src, scratch))
                tf.io.gfile.makedirs(os.path.dirname(dst))
                tf.io.gfile.copy(src, dst, overwrite=True)
        shutil.rmtree(scratch, ignore_errors=True)

    return scratch, upload


def write_formats(
    model,
    config: Mapping[str, Any],
    export_dir: str,
    vocab_path: str,
    formats: Sequence[str] = ("google", "hf"),
    user_dic: str | None = None,
    user_csv: str | None = None,
    tokenizer_mode: str = "fast",
) -> dict[str, Any]:
    """google/, hf/ and the tokenizer state for a pretrainer (float32, outside any strategy).

    config: the export's config.json content (ELECTRA's holds "generator")."""
    from pipeline.text.tokenizer import load_vocab

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ModelFormatError(f"unknown export format(s) {unknown}; known: {list(FORMATS)}")
    summary: dict[str, Any] = {}
    vocab = load_vocab(vocab_path)
    if max(vocab.values()) + 1 > config["vocab_size"]:
        raise ModelFormatError(
            f"{vocab_path} has {max(vocab.values()) + 1} ids, the model's vocab_size is {config['vocab_size']}"
        )
    local, upload = _local(export_dir)
    try:
        _write_formats(
            summary, local, model, config, formats, vocab, vocab_path, user_dic, user_csv, tokenizer_mode
        )
        upload()
    finally:
        if local != export_dir:  # a remote export's local copy, uploaded or not
            shutil.rmtree(local, ignore_errors=True)
    return summary


def _write_formats(
    summary, local, model, config, formats, vocab, vocab_path, user_dic, user_csv, tokenizer_mode
):
    """write_formats' writing into the local folder; fills `summary` per format."""
    from components.model_formats import google_bert, huggingface

    tokenizer_files = write_tokenizer_state(local, vocab_path, user_dic, user_csv, tokenizer_mode)
    tensors = google_bert.LazyGoogle(google_bert.pretrainer_weights(model))
    if "google" in formats:
        summary["google"] = google_bert.write_google(
            tensors, config, os.path.join(local, "google"), vocab_path, config.get("max_seq_length", 512)
        )
    if "hf" in formats:
        summary["hf"] = huggingface.write_hf(
            tensors,
            config,
            os.path.join(local, "hf"),
            vocab_path,
            pad_id=vocab.get("[PAD]", 0),
            extra_files={name: path for name, path in tokenizer_files.items()},
        )


def dummy_features(seq_length: int = 16, predictions: int = 4) -> dict:
    """A one-example batch that makes a pretrainer create all its variables."""
    import tensorflow as tf

    ones = tf.ones([1, seq_length], tf.int32)
    positions = tf.ones([1, predictions], tf.int32)
    return {
        "input_word_ids": ones,
        "input_mask": ones,
        "input_type_ids": tf.zeros_like(ones),
        "masked_lm_positions": positions,
        "masked_lm_ids": positions,
    }


def load_pretrainer(export_dir: str):
    """(pretrainer with checkpoint/pretrainer restored, config) from an export folder."""
    import tensorflow as tf

    from components.trainer.export import PRETRAINER
    from components.trainer.models import pretrainer_from_config

    config_path = os.path.join(export_dir, "config.json")
    prefix = os.path.join(export_dir, "checkpoint", PRETRAINER)
    for path in (config_path, prefix + ".index"):
        if not tf.io.gfile.exists(path):
            raise ModelFormatError(f"{export_dir} is not a complete export: {path} is missing")
    with tf.io.gfile.GFile(config_path) as f:
        config = json.load(f)
    try:
        model, _ = pretrainer_from_config(config)
    except (KeyError, ValueError) as error:
        raise ModelFormatError(f"{config_path}: {error}") from error
    model(dummy_features(), training=False)
    try:
        tf.train.Checkpoint(model=model).read(prefix).assert_existing_objects_matched()
    except AssertionError as error:
        raise ModelFormatError(f"{prefix} does not fit {config_path}: {error}") from error
    return model, config


def export_folder(
    export_dir: str,
    out_dir: str | None = None,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Any]:
    """Write `formats` of an existing export into `out_dir` (default: the export itself).

    Checks everything before writing anything: ModelFormatError on a partial
    export or an unknown format, and nothing is written."""
    import tensorflow as tf

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ModelFormatError(f"unknown export format(s) {unknown}; known: {list(FORMATS)}")
    for name in ("vocab.txt", "config.json"):
        if not tf.io.gfile.exists(os.path.join(export_dir, name)):
            raise ModelFormatError(f"{export_dir} is not a complete export: {name} is missing")
    if "saved_model" in formats and not tf.io.gfile.exists(
        os.path.join(export_dir, "saved_model", "saved_model.pb")
    ):
        raise ModelFormatError(
            f"{export_dir} is not a complete export: saved_model/saved_model.pb is missing"
        )
    model, config = load_pretrainer(export_dir)
    out_dir = out_dir or export_dir
    summary: dict[str, Any] = {}
    if "saved_model" in formats and os.path.normpath(out_dir) != os.path.normpath(export_dir):
        _copy_tree(os.path.join(export_dir, "saved_model"), os.path.join(out_dir, "saved_model"))
        for name in ("config.json", "vocab.txt", "training.json"):
            if tf.io.gfile.exists(os.path.join(export_dir, name)):
                tf.io.gfile.copy(os.path.join(export_dir, name), os.path.join(out_dir, name), overwrite=True)
        summary["saved_model"] = "copied"
    settings = {}
    settings_path = os.path.join(export_dir, TOKENIZER_SETTINGS)
    if tf.io.gfile.exists(settings_path):
        with tf.io.gfile.GFile(settings_path) as f:
            settings = json.load(f)
    user_dic = os.path.join(export_dir, USER_DIC)
    user_csv = os.path.join(export_dir, USER_CSV)
    summary.update(
        write_formats(
            model,
            config,
            out_dir,
            os.path.join(export_dir, "vocab.txt"),
            [f for f in formats if f != "saved_model"],
            user_dic=user_dic if tf.io.gfile.exists(user_dic) else None,
            user_csv=user_csv if tf.io.gfile.exists(user_csv) else None,
            tokenizer_mode=settings.get("mode", "fast"),
        )
    )
    return summary


def _copy_tree(src: str, dst: str) -> None:
    import tensorflow as tf

    for dirpath, _, names in tf.io.gfile.walk(src):
        rel = os.path.relpath(dirpath, src)
        tf.io.gfile.makedirs(os.path.join(dst, rel))
        for name in names:
            tf.io.gfile.copy(os.path.join(dirpath, name), os.path.join(dst, rel, name), overwrite=True)
