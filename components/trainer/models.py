"""Model size presets and the Model Garden (tf-models-official) builders.

The encoder configuration is a plain dict with exactly the keys of KorPatBERT's
`korpat_bert_config.json` plus "model_type", so an export's `config.json` can
be read by anything that reads a Google BERT config. Models are Keras 2
(`tf_keras`) objects throughout; nothing here touches Keras 3.
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


def encoder_config(settings, generator: bool = False) -> dict[str, Any]:
    """KorPatBERT-style config dict (+ "model_type") of the encoder, or of the ELECTRA generator."""
    if settings.vocab_size <= 0:
        raise ValueError("settings.vocab_size is not set (0): resolve it from the vocab file first")
    preset = MODEL_SIZES[settings.model_size]["generator" if generator else "encoder"]
    config = {**_COMMON, **preset, "vocab_size": settings.vocab_size}
    config = {key: config[key] for key in BERT_CONFIG_KEYS}
    config["model_type"] = settings.model_type
    return config


def _activation(name: str):
    import tf_keras

    if name == "gelu":
        # Google BERT's gelu is the tanh approximation; so is Model Garden's default.
        return lambda x: tf_keras.activations.gelu(x, approximate=True)
    if name in ("relu", "tanh", "swish"):
        return tf_keras.activations.get(name)
    raise ValueError(f"unsupported hidden_act {name!r}")


def _initializer(config: dict[str, Any]):
    import tf_keras

    return tf_keras.initializers.TruncatedNormal(stddev=config["initializer_range"])


def build_encoder(config: dict[str, Any], embedding_layer=None, embedding_width: int | None = None):
    """`networks.BertEncoder` (dict outputs) from an `encoder_config` dict.

    `embedding_layer` / `embedding_width` let the ELECTRA generator share the
    discriminator's word embeddings (projected to its smaller hidden size).
    """
    from official.nlp.modeling import networks

    unknown = set(config) - set(BERT_CONFIG_KEYS) - {"model_type", "max_seq_length", "step"}
    if unknown:
        raise ValueError(f"unknown encoder config keys: {sorted(unknown)}")
    return networks.BertEncoder(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        max_sequence_length=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"],
        inner_dim=config["intermediate_size"],
        inner_activation=_activation(config["hidden_act"]),
        output_dropout=config["hidden_dropout_prob"],
        attention_dropout=config["attention_probs_dropout_prob"],
        initializer=_initializer(config),
        embedding_layer=embedding_layer,
        embedding_width=embedding_width,
        dict_outputs=True,
    )


def build_bert_pretrainer(config: dict[str, Any]):
    """`BertPretrainerV2`: MLM head tied to the word embeddings + NSP head named "next_sentence"."""
    from official.nlp.modeling import layers, models

    encoder = build_encoder(config)
    nsp = layers.ClassificationHead(
        inner_dim=config["hidden_size"],
        num_classes=2,
        dropout_rate=config["hidden_dropout_prob"],
        initializer=_initializer(config),
        name="next_sentence",
    )
    return models.BertPretrainerV2(
        encoder_network=encoder,
        mlm_activation=_activation(config["hidden_act"]),
        mlm_initializer=_initializer(config),
        classification_heads=[nsp],
    )


def build_electra_pretrainer(
    discriminator_config: dict[str, Any], generator_config: dict[str, Any], max_predictions: int
):
    """`ElectraPretrainer`; the generator shares the discriminator's word embeddings."""
    from official.nlp.modeling import models

    discriminator = build_encoder(discriminator_config)
    generator = build_encoder(
        generator_config,
        embedding_layer=discriminator.get_embedding_layer(),
        embedding_width=discriminator_config["hidden_size"],
    )
    return models.ElectraPretrainer(
        generator_network=generator,
        discriminator_network=discriminator,
        vocab_size=generator_config["vocab_size"],
        num_classes=2,
        num_token_predictions=max_predictions,
        mlm_activation=_activation(generator_config["hidden_act"]),
        mlm_initializer=_initializer(generator_config),
        disallow_correct=False,
    )


def build_pretrainer(settings):
    """(pretraining model, the encoder that gets exported) for the settings."""
    config = encoder_config(settings)
    if settings.model_type == "bert":
        model = build_bert_pretrainer(config)
        return model, model.encoder_network
    model = build_electra_pretrainer(
        config, encoder_config(settings, generator=True), settings.max_predictions
    )
    return model, model.discriminator_network
