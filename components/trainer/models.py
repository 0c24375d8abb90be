"""Model size presets and the Model Garden (tf-models-official) builders.

The encoder configuration is a plain dict with the keys of KorPatBERT's
`korpat_bert_config.json` (Google BERT's keys plus mBERT's unused
`directionality` and `pooler_*`) plus "model_type" (and, for ELECTRA,
"embedding_size" and the generator's config under "generator"), so an export's
`config.json` can be read by anything that reads a Google BERT config. Models
are Keras 2 (`tf_keras`) objects throughout; nothing here touches Keras 3.

The models follow Google's reference code so that their weights map one to one
onto google-research/bert and google-research/electra checkpoints
(`components.model_formats`):

- BERT's next-sentence head is `cls/seq_relationship` over the encoder's own
  pooled output, so NSP trains the pooler (Model Garden's ClassificationHead
  would add a second, private pooler and leave the encoder's untrained).
- ELECTRA's generator shares the discriminator's whole embedding block (word,
  position and type embeddings and their LayerNorm), as ELECTRA's tied
  embeddings do, and ELECTRA's gelu is the exact (erf) form, as in
  google-research/electra and transformers' ELECTRA; BERT's gelu is the tanh
  approximation, as in google-research/bert.
"""

from __future__ import annotations

from typing import Any

BERT_CONFIG_KEYS = (
    "attention_probs_dropout_prob",
    "hidden_act",
    "hidden_dropout_prob",
    "hidden_size",
    "initializer_range",
    "intermediate_size",
    "max_position_embeddings",
    "num_attention_heads",
    "num_hidden_layers",
    "type_vocab_size",
    "vocab_size",
)

# Keys KorPatBERT's korpat_bert_config.json carries beyond Google's (they come
# from multilingual BERT's config; no BERT implementation reads them). Written
# with these values, accepted on input when they agree with our pooler.
KORPAT_EXTRA_KEYS = {
    "directionality": "bidi",
    "pooler_fc_size": None,  # = hidden_size
    "pooler_num_attention_heads": None,  # = num_attention_heads
    "pooler_num_fc_layers": 3,
    "pooler_size_per_head": 128,
    "pooler_type": "first_token_transform",
}
# Keys an export's config.json has beyond the model's own.
EXPORT_KEYS = ("model_type", "max_seq_length", "step")

# Every preset keeps max_position_embeddings 512 so that a phase-1 (seq 128)
# export warm-starts a phase-2 (seq 512) run with identical shapes.
_COMMON = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}

# encoder: the BERT encoder / ELECTRA discriminator; generator: the ELECTRA
# generator (same depth, a quarter to a third of the width, as in the paper).
MODEL_SIZES: dict[str, dict[str, dict[str, Any]]] = {
    # A few seconds per hundred steps on two CPU cores.
    "tiny": {
        "encoder": {
            "num_hidden_layers": 2,
            "hidden_size": 64,
            "num_attention_heads": 2,
            "intermediate_size": 256,
        },
        "generator": {
            "num_hidden_layers": 2,
            "hidden_size": 32,
            "num_attention_heads": 1,
            "intermediate_size": 128,
        },
    },
    # Google's BERT-Small (L-4, H-512); generator a quarter of the width.
    "small": {
        "encoder": {
            "num_hidden_layers": 4,
            "hidden_size": 512,
            "num_attention_heads": 8,
            "intermediate_size": 2048,
        },
        "generator": {
            "num_hidden_layers": 4,
            "hidden_size": 128,
            "num_attention_heads": 2,
            "intermediate_size": 512,
        },
    },
    # KorPatBERT's BERT-base; ELECTRA-base's generator (hidden 256, 4 heads).
    "base": {
        "encoder": {
            "num_hidden_layers": 12,
            "hidden_size": 768,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
        },
        "generator": {
            "num_hidden_layers": 12,
            "hidden_size": 256,
            "num_attention_heads": 4,
            "intermediate_size": 1024,
        },
    },
}


def korpat_extra(config: dict[str, Any]) -> dict[str, Any]:
    """KorPatBERT's extra keys with the values that describe `config`'s model."""
    values = dict(KORPAT_EXTRA_KEYS)
    values["pooler_fc_size"] = config["hidden_size"]
    values["pooler_num_attention_heads"] = config["num_attention_heads"]
    return values


def complete_config(config: dict[str, Any], model_type: str) -> dict[str, Any]:
    """Google's keys in order, KorPatBERT's extras, model_type (+ ELECTRA's embedding_size)."""
    out = {key: config[key] for key in BERT_CONFIG_KEYS}
    out.update(korpat_extra(out))
    out["model_type"] = model_type
    if model_type == "electra":
        out["embedding_size"] = config.get("embedding_size", config["hidden_size"])
    return out


def encoder_config(settings, generator: bool = False, source: dict | None = None) -> dict[str, Any]:
    """KorPatBERT-style config dict (+ "model_type") of the encoder, or of the ELECTRA generator.

    `source`: the configs of the checkpoint training starts from (`settings.init_checkpoint`,
    read by `components.model_formats.checkpoint.read_source_config`): the sizes are its.
    """
    if settings.vocab_size <= 0:
        raise ValueError("settings.vocab_size is not set (0): resolve it from the vocab file first")
    if source is not None:
        config = source["generator" if generator else "encoder"]
        if config["vocab_size"] != settings.vocab_size:
            raise ValueError(
                f"init_checkpoint {settings.init_checkpoint} has vocab_size {config['vocab_size']}, "
                f"the vocab {settings.vocab_path or '(settings)'} {settings.vocab_size}"
            )
        return config
    preset = MODEL_SIZES[settings.model_size]["generator" if generator else "encoder"]
    config = {**_COMMON, **preset, "vocab_size": settings.vocab_size}
    if settings.model_type == "electra":
        # The generator embeds with the discriminator's (shared) embedding table.
        config["embedding_size"] = MODEL_SIZES[settings.model_size]["encoder"]["hidden_size"]
    return complete_config(config, settings.model_type)


def check_config(config: dict[str, Any]) -> None:
    """ValueError naming any unknown key, or a KorPatBERT extra key that contradicts the model."""
    known = (
        set(BERT_CONFIG_KEYS) | set(KORPAT_EXTRA_KEYS) | set(EXPORT_KEYS) | {"embedding_size", "generator"}
    )
    unknown = set(config) - known
    if unknown:
        raise ValueError(f"unknown encoder config keys: {sorted(unknown)}")
    missing = [key for key in BERT_CONFIG_KEYS if key not in config]
    if missing:
        raise ValueError(f"encoder config lacks {missing}")
    expected = korpat_extra(config)
    # pooler_num_fc_layers / pooler_size_per_head describe no layer anywhere: accepted as they are.
    for key in ("directionality", "pooler_fc_size", "pooler_type"):
        if key in config and config[key] != expected[key]:
            raise ValueError(f"encoder config {key}={config[key]!r}: this model has {expected[key]!r}")


def _activation(name: str, model_type: str = "bert"):
    import tf_keras

    if name == "gelu":
        # google-research/bert's gelu is the tanh approximation (Model Garden's
        # default too); google-research/electra's and transformers' ELECTRA's
        # is the exact erf form.
        return lambda x: tf_keras.activations.gelu(x, approximate=model_type != "electra")
    if name in ("relu", "tanh"):
        return tf_keras.activations.get(name)
    raise ValueError(f"unsupported hidden_act {name!r}")


def _initializer(config: dict[str, Any]):
    import tf_keras

    return tf_keras.initializers.TruncatedNormal(stddev=config["initializer_range"])


def build_encoder(
    config: dict[str, Any], embedding_layer=None, embedding_width: int | None = None, initializer=None
):
    """`networks.BertEncoder` (dict outputs) from an `encoder_config` dict.

    `embedding_layer` / `embedding_width` let the ELECTRA generator share the
    discriminator's word embeddings (projected to its smaller hidden size).
    `initializer` overrides the config's (the export's copy, whose weights are
    set right after, uses zeros: drawing 100M truncated normals costs seconds).
    """
    from official.nlp.modeling import networks

    check_config(config)
    return networks.BertEncoder(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        max_sequence_length=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"],
        inner_dim=config["intermediate_size"],
        inner_activation=_activation(config["hidden_act"], config.get("model_type", "bert")),
        output_dropout=config["hidden_dropout_prob"],
        attention_dropout=config["attention_probs_dropout_prob"],
        initializer=initializer or _initializer(config),
        embedding_layer=embedding_layer,
        embedding_width=embedding_width,
        dict_outputs=True,
    )


def _next_sentence_head_class():
    import tensorflow as tf
    import tf_keras

    class NextSentenceHead(tf_keras.layers.Layer):
        """Google BERT's `cls/seq_relationship`: logits = pooled @ output_weights^T + output_bias.

        `pooled` is the encoder's own pooler applied to [CLS] of the sequence
        output (BertPretrainerV2 hands heads the sequence output), which is
        exactly the encoder's `pooled_output`, so NSP trains the pooler.
        output_weights is [2, hidden], Google's layout.
        """

        def __init__(self, pooler, hidden_size: int, initializer, **kwargs):
            super().__init__(**kwargs)
            self.pooler = pooler
            self.output_weights = self.add_weight(
                "output_weights", shape=(2, hidden_size), initializer=initializer, trainable=True
            )
            self.output_bias = self.add_weight("output_bias", shape=(2,), initializer="zeros", trainable=True)

        def call(self, sequence_output):
            pooled = self.pooler(sequence_output[:, 0, :])
            logits = tf.matmul(pooled, tf.cast(self.output_weights, pooled.dtype), transpose_b=True)
            return logits + tf.cast(self.output_bias, pooled.dtype)

    return NextSentenceHead


def build_bert_pretrainer(config: dict[str, Any]):
    """`BertPretrainerV2`: MLM head tied to the word embeddings + NSP head named "next_sentence"."""
    from official.nlp.modeling import models

    encoder = build_encoder(config)
    nsp = _next_sentence_head_class()(
        encoder.pooler_layer, config["hidden_size"], _initializer(config), name="next_sentence"
    )
    return models.BertPretrainerV2(
        encoder_network=encoder,
        mlm_activation=_activation(config["hidden_act"]),
        mlm_initializer=_initializer(config),
        classification_heads=[nsp],
    )


def build_generator(config: dict[str, Any], discriminator):
    """ELECTRA's generator: a `BertEncoderV2` that embeds with the discriminator's
    word, position and type embeddings and embedding LayerNorm (ELECTRA's tied
    embeddings), projected to its own width when that is smaller."""
    from official.nlp.modeling import networks

    check_config(config)

    class SharedEmbeddingEncoder(networks.BertEncoderV2):
        def call(self, inputs):
            if isinstance(inputs, (list, tuple)):  # ElectraPretrainer passes a list
                inputs = dict(zip(("input_word_ids", "input_mask", "input_type_ids"), inputs, strict=True))
            return super().call(inputs)

    generator = SharedEmbeddingEncoder(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        max_sequence_length=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"],
        inner_dim=config["intermediate_size"],
        inner_activation=_activation(config["hidden_act"], "electra"),
        output_dropout=config["hidden_dropout_prob"],
        attention_dropout=config["attention_probs_dropout_prob"],
        initializer=_initializer(config),
        embedding_layer=discriminator.get_embedding_layer(),
        embedding_width=discriminator.get_embedding_table().shape[-1],
        name="generator",
    )
    # Replaced before the first call, so the generator's own copies are never built.
    generator._position_embedding_layer = discriminator._position_embedding_layer
    generator._type_embedding_layer = discriminator._type_embedding_layer
    generator._embedding_norm_layer = discriminator._embedding_norm_layer
    return generator


def _electra_pretrainer_class():
    import tensorflow as tf
    from official.nlp.modeling import models

    class Float32SamplingElectraPretrainer(models.ElectraPretrainer):
        """Samples replacements from float32 logits: under mixed_float16 Model Garden's
        sampling adds float32 Gumbel noise to float16 logits and fails."""

        def _get_fake_data(self, inputs, mlm_logits, duplicate=True):
            return super()._get_fake_data(inputs, tf.cast(mlm_logits, tf.float32), duplicate)

    return Float32SamplingElectraPretrainer


def build_electra_pretrainer(
    discriminator_config: dict[str, Any], generator_config: dict[str, Any], max_predictions: int
):
    """`ElectraPretrainer`; the generator shares the discriminator's embeddings."""

    discriminator = build_encoder(discriminator_config)
    generator = build_generator(generator_config, discriminator)
    return _electra_pretrainer_class()(
        generator_network=generator,
        discriminator_network=discriminator,
        vocab_size=generator_config["vocab_size"],
        num_classes=2,
        num_token_predictions=max_predictions,
        mlm_activation=_activation(generator_config["hidden_act"], "electra"),
        mlm_initializer=_initializer(generator_config),
        disallow_correct=False,
    )


def build_pretrainer(settings, source: dict | None = None):
    """(pretraining model, the encoder that gets exported) for the settings; `source`: the
    configs of the checkpoint training starts from (see encoder_config)."""
    config = encoder_config(settings, source=source)
    if settings.model_type == "bert":
        model = build_bert_pretrainer(config)
        return model, model.encoder_network
    model = build_electra_pretrainer(
        config, encoder_config(settings, generator=True, source=source), settings.max_predictions
    )
    return model, model.discriminator_network


def pretrainer_from_config(config: dict[str, Any], max_predictions: int = 20):
    """(pretrainer, encoder) from an export's config.json (ELECTRA's holds "generator")."""
    if config.get("model_type", "bert") == "bert":
        model = build_bert_pretrainer(config)
        return model, model.encoder_network
    model = build_electra_pretrainer(config, config["generator"], max_predictions)
    return model, model.discriminator_network
