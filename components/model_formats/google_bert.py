"""Our Model Garden weights under google-research/bert and google-research/electra names.

Every weight of a pretrainer built by `components.trainer.models` has exactly
one Google name; `bert_weights(model)` / `electra_weights(model)` list them as
`Weight(name, variable, shape)`, where `shape` is Google's. Converting is a
reshape, never a transpose: Model Garden's attention kernels are [hidden,
heads, head_size] (output: [heads, head_size, hidden]) where Google's are
[hidden, hidden]; every other weight has the same layout in both (Google's
`cls/seq_relationship/output_weights` is [2, hidden], and so is ours).

BERT (google-research/bert modeling.py + run_pretraining.py):
    bert/embeddings/{word,token_type,position}_embeddings, bert/embeddings/LayerNorm/*
    bert/encoder/layer_N/attention/self/{query,key,value}/{kernel,bias}
    bert/encoder/layer_N/attention/output/{dense,LayerNorm}/*
    bert/encoder/layer_N/{intermediate,output}/dense/*, bert/encoder/layer_N/output/LayerNorm/*
    bert/pooler/dense/*
    cls/predictions/transform/{dense,LayerNorm}/*, cls/predictions/output_bias
    cls/seq_relationship/{output_weights,output_bias}

ELECTRA (google-research/electra, tied generator embeddings): the
discriminator under `electra/` (no pooler), the generator's layers under
`generator/` (`generator/embeddings_project` when it is narrower than the
embeddings; the embeddings themselves are `electra/embeddings/*`), and the
heads `generator_predictions/{dense,LayerNorm,output_bias}` and
`discriminator_predictions/{dense,dense_1}`. Our model's ELECTRA pooler and
generator sentence head are trained by nothing and are not exported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from components.model_formats import ModelFormatError
from components.trainer.models import BERT_CONFIG_KEYS

# Training-state variables a Google checkpoint may hold beside the weights
# (KorPatBERT's: Adam slots, global_step, AMP loss scale).
TRAINING_STATE_SUFFIXES = ("/adam_m", "/adam_v", "/Adam", "/Adam_1")
TRAINING_STATE_NAMES = ("global_step", "current_loss_scale", "good_steps", "beta1_power", "beta2_power")

BERT_CHECKPOINT = "bert_model.ckpt"
ELECTRA_CHECKPOINT = "model.ckpt"
# What google-research/bert's BertConfig holds (KorPatBERT's extras are added to it):
# the trainer's config keys, which are Google's.
GOOGLE_CONFIG_KEYS = BERT_CONFIG_KEYS


class Weight(NamedTuple):
    name: str  # Google's variable name
    variable: Any  # the tf.Variable in our model
    shape: tuple[int, ...]  # Google's shape


def _plain(name: str, variable) -> Weight:
    return Weight(name, variable, tuple(variable.shape))


def _merged_heads(name: str, variable, keep: str) -> Weight:
    """[hidden, heads, size] -> [hidden, heads*size] (keep='first'), [heads, size, hidden] ->
    [heads*size, hidden] (keep='last'), [heads, size] -> [heads*size] (keep='none')."""
    shape = tuple(variable.shape)
    if keep == "first":
        google = (shape[0], int(np.prod(shape[1:])))
    elif keep == "last":
        google = (int(np.prod(shape[:-1])), shape[-1])
    else:
        google = (int(np.prod(shape)),)
    return Weight(name, variable, google)


def _dense(prefix: str, layer) -> list[Weight]:
    return [_plain(f"{prefix}/kernel", layer.kernel), _plain(f"{prefix}/bias", layer.bias)]


def _norm(prefix: str, layer) -> list[Weight]:
    return [_plain(f"{prefix}/gamma", layer.gamma), _plain(f"{prefix}/beta", layer.beta)]


def encoder_weights(encoder, scope: str, embeddings: bool = True, pooler: bool = True) -> list[Weight]:
    """A Model Garden BertEncoder's weights under Google's names below `scope`."""
    out: list[Weight] = []
    if embeddings:
        out += [
            _plain(f"{scope}/embeddings/word_embeddings", encoder._embedding_layer.embeddings),
            _plain(f"{scope}/embeddings/token_type_embeddings", encoder._type_embedding_layer.embeddings),
            _plain(
                f"{scope}/embeddings/position_embeddings",
                encoder._position_embedding_layer._position_embeddings,
            ),
            *_norm(f"{scope}/embeddings/LayerNorm", encoder._embedding_norm_layer),
        ]
    projection = getattr(encoder, "_embedding_projection", None)
    if projection is not None:
        out += _dense(f"{scope}/embeddings_project", projection)
    for i, layer in enumerate(encoder._transformer_layers):
        prefix = f"{scope}/encoder/layer_{i}"
        attention = layer._attention_layer
        for google, dense in (
            ("query", attention._query_dense),
            ("key", attention._key_dense),
            ("value", attention._value_dense),
        ):
            out.append(_merged_heads(f"{prefix}/attention/self/{google}/kernel", dense.kernel, "first"))
            out.append(_merged_heads(f"{prefix}/attention/self/{google}/bias", dense.bias, "none"))
        out.append(
            _merged_heads(f"{prefix}/attention/output/dense/kernel", attention._output_dense.kernel, "last")
        )
        out.append(_plain(f"{prefix}/attention/output/dense/bias", attention._output_dense.bias))
        out += _norm(f"{prefix}/attention/output/LayerNorm", layer._attention_layer_norm)
        out += _dense(f"{prefix}/intermediate/dense", layer._intermediate_dense)
        out += _dense(f"{prefix}/output/dense", layer._output_dense)
        out += _norm(f"{prefix}/output/LayerNorm", layer._output_layer_norm)
    if pooler:
        out += _dense(f"{scope}/pooler/dense", encoder._pooler_layer)
    return out


def _next_sentence_head(model):
    for head in model.classification_heads:
        if head.name == "next_sentence":
            return head
    raise ModelFormatError("the BERT pretrainer has no next_sentence head")


def bert_weights(model) -> list[Weight]:
    """Every weight of a BERT pretrainer (`models.build_bert_pretrainer`), Google-named."""
    mlm = model.masked_lm
    nsp = _next_sentence_head(model)
    return [
        *encoder_weights(model.encoder_network, "bert"),
        *_dense("cls/predictions/transform/dense", mlm.dense),
        *_norm("cls/predictions/transform/LayerNorm", mlm.layer_norm),
        _plain("cls/predictions/output_bias", mlm.bias),
        _plain("cls/seq_relationship/output_weights", nsp.output_weights),
        _plain("cls/seq_relationship/output_bias", nsp.output_bias),
    ]


def electra_weights(model) -> list[Weight]:
    """The exported weights of an ELECTRA pretrainer (`models.build_electra_pretrainer`)."""
    mlm = model.masked_lm
    return [
        *encoder_weights(model.discriminator_network, "electra", pooler=False),
        *encoder_weights(model.generator_network, "generator", embeddings=False, pooler=False),
        *_dense("generator_predictions/dense", mlm.dense),
        *_norm("generator_predictions/LayerNorm", mlm.layer_norm),
        _plain("generator_predictions/output_bias", mlm.bias),
        *_dense("discriminator_predictions/dense", model.discriminator_projection),
        *_dense("discriminator_predictions/dense_1", model.discriminator_head),
    ]


def pretrainer_weights(model) -> list[Weight]:
    return electra_weights(model) if hasattr(model, "discriminator_network") else bert_weights(model)


def to_google(weights: list[Weight]) -> dict[str, np.ndarray]:
    """Google name -> float32 array in Google's shape."""
    return {w.name: np.asarray(w.variable.numpy(), np.float32).reshape(w.shape) for w in weights}


class LazyGoogle(Mapping):
    """Google name -> array, read from the model's variable when asked: exporting a
    base-size model never holds a second full copy of its weights."""

    def __init__(self, weights: list[Weight]):
        self._weights = {w.name: w for w in weights}

    def __getitem__(self, name: str) -> np.ndarray:
        w = self._weights[name]
        return np.asarray(w.variable.numpy(), np.float32).reshape(w.shape)

    def __iter__(self):
        return iter(self._weights)

    def __len__(self) -> int:
        return len(self._weights)

    def tensor(self, name: str):
        """A TF tensor in Google's shape (a reshape of the variable's value, no numpy copy)."""
        import tensorflow as tf

        w = self._weights[name]
        return tf.reshape(tf.cast(w.variable, tf.float32), w.shape)


def is_training_state(name: str) -> bool:
    return name in TRAINING_STATE_NAMES or name.endswith(TRAINING_STATE_SUFFIXES)


def check_fit(weights: list[Weight], tensors: Mapping[str, np.ndarray], source: str) -> None:
    """ModelFormatError naming what is missing from Google-named tensors, what has the wrong
    shape, or what the model has no place for (optimizer state aside); nothing is assigned."""
    expected = {w.name for w in weights}
    missing = sorted(expected - set(tensors))
    unexpected = sorted(n for n in set(tensors) - expected if not is_training_state(n))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} variables: {', '.join(missing[:8])}")
    if unexpected:
        problems.append(
            f"{len(unexpected)} variables this model has no place for: {', '.join(unexpected[:8])}"
        )
    for w in weights:
        if w.name in tensors and tuple(np.shape(tensors[w.name])) != w.shape:
            problems.append(
                f"{w.name} has shape {list(np.shape(tensors[w.name]))}, the config says {list(w.shape)}"
            )
    if problems:
        raise ModelFormatError(f"{source}: " + "; ".join(problems[:10]))


def assign(weights: list[Weight], tensors: Mapping[str, np.ndarray], source: str) -> None:
    """Set every weight from Google-named tensors, once check_fit has passed."""
    check_fit(weights, tensors, source)
    for w in weights:
        w.variable.assign(np.asarray(tensors[w.name], np.float32).reshape(w.variable.shape))


# ------------------------------------------------------------------ checkpoint files


def write_checkpoint(tensors: Mapping[str, np.ndarray], prefix: str) -> None:
    """A TF1-style name-based checkpoint (`prefix.index`, `prefix.data-00000-of-00001`) and
    the `checkpoint` state file beside it, as tf.compat.v1.train.Saver writes them."""
    import tensorflow as tf

    names = sorted(tensors)
    tf.io.gfile.makedirs(os.path.dirname(prefix))
    lazy = isinstance(tensors, LazyGoogle)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors.tensor(n) if lazy else tf.constant(tensors[n]) for n in names],
    )
    base = os.path.basename(prefix)
    with tf.io.gfile.GFile(os.path.join(os.path.dirname(prefix), "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n')


def read_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """Every variable of a name-based checkpoint (training state included)."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as error:
        raise ModelFormatError(f"{prefix}: not a readable TensorFlow checkpoint ({error})") from error
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def google_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """bert_config.json: Google's keys, then KorPatBERT's extras (and ELECTRA's embedding_size)."""
    from components.trainer.models import korpat_extra

    out = {key: config[key] for key in GOOGLE_CONFIG_KEYS}
    out.update(korpat_extra(out))
    if "embedding_size" in config:
        out["embedding_size"] = config["embedding_size"]
    return out


def electra_hparams(discriminator: Mapping[str, Any], generator: Mapping[str, Any]) -> dict[str, Any]:
    """google-research/electra's `--hparams` for this model (run_pretraining / run_finetuning)."""
    return {
        "vocab_size": discriminator["vocab_size"],
        "embedding_size": discriminator.get("embedding_size", discriminator["hidden_size"]),
        "max_seq_length": None,
        "model_hparam_overrides": {
            key: discriminator[key]
            for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
        },
        "generator_hidden_size": generator["hidden_size"] / discriminator["hidden_size"],
        "generator_layers": generator["num_hidden_layers"] / discriminator["num_hidden_layers"],
        "untied_generator": True,
        "untied_generator_embeddings": False,
    }


def write_google(
    tensors: Mapping[str, np.ndarray],
    config: Mapping[str, Any],
    folder: str,
    vocab_path: str,
    max_seq_length: int,
) -> dict:
    """google/: the checkpoint under Google's names (`LazyGoogle(pretrainer_weights(model))`
    or `to_google(...)`), its config file(s) and vocab.txt."""
    import tensorflow as tf

    tf.io.gfile.makedirs(folder)
    electra = config.get("model_type") == "electra"
    prefix = os.path.join(folder, ELECTRA_CHECKPOINT if electra else BERT_CHECKPOINT)
    write_checkpoint(tensors, prefix)
    _write_json(os.path.join(folder, "bert_config.json"), google_config(config))
    if electra:
        _write_json(os.path.join(folder, "generator_config.json"), google_config(config["generator"]))
        hparams = electra_hparams(config, config["generator"])
        hparams["max_seq_length"] = max_seq_length
        _write_json(os.path.join(folder, "electra_hparams.json"), hparams)
    tf.io.gfile.copy(vocab_path, os.path.join(folder, "vocab.txt"), overwrite=True)
    return {"checkpoint": os.path.basename(prefix), "variables": len(tensors)}


def _write_json(path: str, data: Mapping[str, Any]) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
