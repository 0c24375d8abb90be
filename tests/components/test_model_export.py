"""components.model_formats: the export as a model package that loads elsewhere.

Tiny BERT and ELECTRA pretrainers are built in this process with every weight
perturbed (so biases and LayerNorm are not at their initial zeros/ones),
exported, and read back by code that is not ours: transformers'
`load_tf_weights_in_bert` and PyTorch classes, and google-research/bert's own
modeling.py (bert-tensorflow 1.0.4) in a child process. A few training steps
on synthetic records check that NSP trains the encoder's pooler.
"""

import json
import logging
import os

import numpy as np
import pytest

from components.trainer.settings import TrainSettings

TOLERANCE = 1e-4
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_vocab(path, size=100):
    words = [
        "반도체",
        "소자",
        "기판",
        "##는",
        "##을",
        "본",
        "발명",
        "은",
        "에",
        "관한",
        "것",
        "이",
        "다",
        ".",
    ]
    tokens = SPECIAL + words + [f"t{i}" for i in range(size - len(SPECIAL) - len(words))]
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return str(path)


def perturb(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(variable.numpy() + rng.normal(0, 0.05, variable.shape).astype(np.float32))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{"bert"|"electra": (export_dir, pretrainer, settings)}: tiny, perturbed, exported."""
    from components.model_formats.package import dummy_features
    from components.trainer.models import build_pretrainer
    from components.trainer.train import export_encoder, model_config

    root = tmp_path_factory.mktemp("exports")
    vocab = write_vocab(root / "vocab.txt")
    user_csv = root / "user.csv"
    user_csv.write_text("반도체소자,,,,NNP,*,F,반도체소자,*,*,*,*\n", encoding="utf-8")
    user_dic = root / "user.dic"
    user_dic.write_bytes(b"not compiled in this test")
    out = {}
    for flavour in ("bert", "electra"):
        settings = TrainSettings(
            model_type=flavour,
            vocab_size=100,
            vocab_path=vocab,
            user_dictionary=str(user_dic),
            user_csv=str(user_csv),
        )
        model, encoder = build_pretrainer(settings)
        model(dummy_features(), training=False)
        perturb(model)
        export_dir = str(root / flavour)
        export_encoder(
            encoder, model_config(settings), export_dir, 7, 128, vocab, {"steps": 7}, model, settings
        )
        out[flavour] = (export_dir, model, settings)
    return out


# ------------------------------------------------------------------ config.json = the model


def _activation_is(fn, approximate: bool) -> bool:
    import tensorflow as tf

    x = tf.constant(np.linspace(-4, 4, 41, dtype=np.float32))
    want = tf.nn.gelu(x, approximate=approximate).numpy()
    return np.allclose(fn(x).numpy(), want, atol=1e-7)


def check_config_matches(config, encoder, model_type, embedding_width):
    """Every key of a config against the built encoder (BertEncoder or V2 generator)."""
    layers = encoder._transformer_layers
    attention = layers[0]._attention_layer
    got = {
        "vocab_size": encoder.get_embedding_table().shape[0],
        "hidden_size": layers[0]._output_dense.kernel.shape[-1],
        "num_hidden_layers": len(layers),
        "num_attention_heads": attention._num_heads,
        "intermediate_size": layers[0]._intermediate_dense.kernel.shape[-1],
        "max_position_embeddings": encoder._position_embedding_layer._position_embeddings.shape[0],
        "type_vocab_size": encoder._type_embedding_layer.embeddings.shape[0],
        "hidden_dropout_prob": layers[0]._output_dropout.rate,
        "attention_probs_dropout_prob": attention._dropout,
        "initializer_range": encoder.get_config()["initializer"]["config"]["stddev"],
        "pooler_fc_size": encoder._pooler_layer.kernel.shape[-1],
        "pooler_num_attention_heads": attention._num_heads,
        "directionality": "bidi",
        "pooler_type": "first_token_transform",
        "pooler_num_fc_layers": 3,
        "pooler_size_per_head": 128,
        "model_type": model_type,
    }
    if model_type == "electra":
        got["embedding_size"] = embedding_width
    assert config["hidden_act"] == "gelu"
    assert _activation_is(
        layers[0]._intermediate_activation_layer.activation, approximate=model_type == "bert"
    )
    assert {k: config[k] for k in got} == got
    assert set(config) - {"hidden_act", "generator", "max_seq_length", "step"} == set(got)


def test_config_json_is_the_models(exports):
    for flavour in ("bert", "electra"):
        export_dir, model, _ = exports[flavour]
        with open(os.path.join(export_dir, "config.json")) as f:
            config = json.load(f)
        assert (config["max_seq_length"], config["step"]) == (128, 7)
        if flavour == "bert":
            check_config_matches(config, model.encoder_network, "bert", None)
            with open(os.path.join(export_dir, "google", "bert_config.json")) as f:
                google = json.load(f)
            assert google == {k: config[k] for k in google} and "model_type" not in google
        else:
            width = model.discriminator_network.get_embedding_table().shape[-1]
            check_config_matches(config, model.discriminator_network, "electra", width)
            check_config_matches(config["generator"], model.generator_network, "electra", width)
            assert config["embedding_size"] == 64 and config["generator"]["hidden_size"] == 32


def test_encoder_accepts_korpatbert_config_keys():
    from components.trainer.models import build_encoder

    korpat = {
        "attention_probs_dropout_prob": 0.1,
        "directionality": "bidi",
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        "num_attention_heads": 2,
        "num_hidden_layers": 1,
        "pooler_fc_size": 32,
        "pooler_num_attention_heads": 2,
        "pooler_num_fc_layers": 3,
        "pooler_size_per_head": 128,
        "pooler_type": "first_token_transform",
        "type_vocab_size": 2,
        "vocab_size": 50,
    }
    build_encoder(korpat)
    with pytest.raises(ValueError, match="pooler_type"):
        build_encoder({**korpat, "pooler_type": "mean"})
    with pytest.raises(ValueError, match="unknown encoder config keys"):
        build_encoder({**korpat, "bogus": 1})


# ------------------------------------------------------------------ saved_model/


def test_saved_model_loads_and_equals_the_training_model(exports):
    from components.model_formats.equivalence import sample_inputs, saved_model_outputs

    for flavour in ("bert", "electra"):
        export_dir, model, _ = exports[flavour]
        encoder = model.discriminator_network if flavour == "electra" else model.encoder_network
        inputs = sample_inputs(100)
        served = saved_model_outputs(os.path.join(export_dir, "saved_model"), inputs)
        direct = encoder(
            [inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"]], training=False
        )
        for key in ("sequence_output", "pooled_output"):
            np.testing.assert_allclose(served[key], direct[key].numpy(), atol=TOLERANCE)


# ------------------------------------------------------------------ google/


def expected_google_names(layers=2):
    names = [
        f"bert/embeddings/{n}" for n in ("word_embeddings", "token_type_embeddings", "position_embeddings")
    ]
    names += ["bert/embeddings/LayerNorm/gamma", "bert/embeddings/LayerNorm/beta"]
    for i in range(layers):
        p = f"bert/encoder/layer_{i}"
        for part in (
            "attention/self/query",
            "attention/self/key",
            "attention/self/value",
            "attention/output/dense",
            "intermediate/dense",
            "output/dense",
        ):
            names += [f"{p}/{part}/kernel", f"{p}/{part}/bias"]
        for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
            names += [f"{p}/{norm}/gamma", f"{p}/{norm}/beta"]
    names += ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"]
    names += [
        "cls/predictions/transform/dense/kernel",
        "cls/predictions/transform/dense/bias",
        "cls/predictions/transform/LayerNorm/gamma",
        "cls/predictions/transform/LayerNorm/beta",
        "cls/predictions/output_bias",
        "cls/seq_relationship/output_weights",
        "cls/seq_relationship/output_bias",
    ]
    return names


def test_google_checkpoint_names_and_shapes(exports):
    import tensorflow as tf

    export_dir, _, _ = exports["bert"]
    google = os.path.join(export_dir, "google")
    assert sorted(os.listdir(google)) == [
        "bert_config.json",
        "bert_model.ckpt.data-00000-of-00001",
        "bert_model.ckpt.index",
        "checkpoint",
        "vocab.txt",
    ]
    shapes = dict(tf.train.list_variables(os.path.join(google, "bert_model.ckpt")))
    assert sorted(shapes) == sorted(expected_google_names())
    assert shapes["bert/encoder/layer_0/attention/self/query/kernel"] == [64, 64]
    assert shapes["bert/encoder/layer_1/attention/output/dense/kernel"] == [64, 64]
    assert shapes["bert/encoder/layer_0/attention/self/value/bias"] == [64]
    assert shapes["cls/seq_relationship/output_weights"] == [2, 64]
    assert shapes["cls/predictions/output_bias"] == [100]
    assert tf.train.latest_checkpoint(google).endswith("bert_model.ckpt")


def test_electra_google_names(exports):
    import tensorflow as tf

    export_dir, _, _ = exports["electra"]
    google = os.path.join(export_dir, "google")
    shapes = dict(tf.train.list_variables(os.path.join(google, "model.ckpt")))
    assert {n.split("/")[0] for n in shapes} == {
        "electra",
        "generator",
        "generator_predictions",
        "discriminator_predictions",
    }
    assert shapes["electra/embeddings/word_embeddings"] == [100, 64]
    assert shapes["generator/embeddings_project/kernel"] == [64, 32]
    assert shapes["generator/encoder/layer_1/attention/self/query/kernel"] == [32, 32]
    assert shapes["generator_predictions/dense/kernel"] == [32, 64]
    assert shapes["generator_predictions/output_bias"] == [100]
    assert shapes["discriminator_predictions/dense_1/kernel"] == [64, 1]
    assert not any("pooler" in n or n.startswith("generator/embeddings/") for n in shapes)
    with open(os.path.join(google, "electra_hparams.json")) as f:
        hparams = json.load(f)
    assert (hparams["generator_hidden_size"], hparams["embedding_size"]) == (0.5, 64)


def test_transformers_load_tf_weights_in_bert(exports, caplog):
    """transformers' own TF-checkpoint loader fills every BertForPreTraining weight, skips nothing."""
    import torch
    import transformers
    from transformers import BertConfig, BertForPreTraining, load_tf_weights_in_bert

    from components.model_formats.equivalence import keras_outputs, sample_inputs

    export_dir, model, _ = exports["bert"]
    google = os.path.join(export_dir, "google")
    config = BertConfig.from_json_file(os.path.join(google, "bert_config.json"))
    config.hidden_act = "gelu_new"  # google-research/bert's gelu is the tanh form
    hf = BertForPreTraining(config)
    with torch.no_grad():
        for parameter in hf.parameters():
            parameter.fill_(float("nan"))
    transformers.logging.set_verbosity_info()
    transformers.logging.enable_propagation()  # its logger does not propagate to caplog by default
    try:
        with caplog.at_level(logging.INFO):
            load_tf_weights_in_bert(hf, config, os.path.join(google, "bert_model.ckpt"))
    finally:
        transformers.logging.disable_propagation()
        transformers.logging.set_verbosity_warning()
    assert "Skipping" not in caplog.text
    # Every variable of the file went into the model (nothing unexpected). Distinct
    # messages: a handler another test left on the root logger can repeat a record.
    loaded = {r.getMessage() for r in caplog.records if "Initialize PyTorch weight" in r.getMessage()}
    assert len(loaded) == len(expected_google_names())
    unfilled = [name for name, p in hf.named_parameters() if torch.isnan(p).any()]
    assert unfilled == []
    hf.eval()
    inputs = sample_inputs(100)
    ours = keras_outputs(model, inputs)
    with torch.no_grad():
        out = hf(
            input_ids=torch.tensor(inputs["input_word_ids"], dtype=torch.long),
            attention_mask=torch.tensor(inputs["input_mask"], dtype=torch.long),
            token_type_ids=torch.tensor(inputs["input_type_ids"], dtype=torch.long),
        )
    np.testing.assert_allclose(out.seq_relationship_logits.numpy(), ours["nsp_logits"], atol=TOLERANCE)
    positions = inputs["masked_lm_positions"]
    mlm = np.take_along_axis(out.prediction_logits.numpy(), positions[:, :, None], axis=1)
    np.testing.assert_allclose(mlm, ours["mlm_logits"], atol=TOLERANCE)


def test_google_modeling_restores_the_checkpoint(exports):
    """google-research/bert's BertModel + run_pretraining heads restore google/ with no
    missing or unexpected variable, and compute what our model computes."""
    from components.model_formats.equivalence import (
        google_modeling_outputs,
        keras_outputs,
        log_softmax,
        sample_inputs,
    )

    export_dir, model, _ = exports["bert"]
    inputs = sample_inputs(100)
    theirs = google_modeling_outputs(os.path.join(export_dir, "google"), inputs)
    assert sorted(theirs["variables"]) == sorted(expected_google_names())
    ours = keras_outputs(model, inputs)
    np.testing.assert_allclose(theirs["sequence_output"], ours["sequence_output"], atol=TOLERANCE)
    np.testing.assert_allclose(theirs["pooled_output"], ours["pooled_output"], atol=TOLERANCE)
    np.testing.assert_allclose(theirs["mlm_logits"], log_softmax(ours["mlm_logits"]), atol=TOLERANCE)
    np.testing.assert_allclose(theirs["nsp_logits"], log_softmax(ours["nsp_logits"]), atol=TOLERANCE)


# ------------------------------------------------------------------ hf/ and equivalence


def test_every_format_gives_the_same_outputs(exports):
    """saved_model/, hf/ (transformers' PyTorch classes, nothing missing or unexpected) and
    google/ (restored into a fresh pretrainer) agree with the pretrainer within 1e-4."""
    from components.model_formats.equivalence import compare

    for flavour, outputs in (
        ("bert", {"sequence_output", "pooled_output", "mlm_logits", "nsp_logits"}),
        ("electra", {"sequence_output", "mlm_logits", "disc_logits"}),
    ):
        # The google-research/bert row too (BERT only), as the command prints it.
        table = compare(exports[flavour][0], ("saved_model", "hf", "google", "google_modeling"))
        assert len(table) == (4 if flavour == "bert" else 3), table
        assert set(table["hf"]) == set(table["google"]) == outputs, table
        for fmt, row in table.items():
            assert max(row.values()) < TOLERANCE, (flavour, fmt, row)


def test_hf_folder_files_and_tokenizer(exports):
    from transformers import AutoTokenizer

    from pipeline.text.tokenizer import Tokenizer

    export_dir, _, _ = exports["bert"]
    hf = os.path.join(export_dir, "hf")
    for name in (
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "README.md",
        "user.dic",
        "user.csv",
        "tokenizer_settings.json",
    ):
        assert os.path.exists(os.path.join(hf, name)), name
    with open(os.path.join(hf, "config.json")) as f:
        config = json.load(f)
    assert (config["hidden_act"], config["architectures"]) == ("gelu_new", ["BertForPreTraining"])
    assert (config["directionality"], config["pooler_type"]) == ("bidi", "first_token_transform")
    with open(os.path.join(hf, "tokenizer_config.json")) as f:
        tokenizer_config = json.load(f)
    assert (tokenizer_config["do_lower_case"], tokenizer_config["strip_accents"]) == (False, False)
    with open(os.path.join(hf, "README.md"), encoding="utf-8") as f:
        card = f.read()
    assert "Mecab-ko" in card and "user.dic" in card
    with open(os.path.join(export_dir, "tokenizer_settings.json")) as f:
        settings = json.load(f)
    assert (settings["mode"], settings["cased"], settings["mecab"]["user_dictionary"]) == (
        "fast",
        True,
        "user.dic",
    )
    assert settings["rule"] == "korpat_bidir_wordpiece_v1"

    # Morpheme-split text whose words are in the vocabulary: both tokenizers agree.
    tokenizer = AutoTokenizer.from_pretrained(hf)
    ours = Tokenizer(os.path.join(export_dir, "vocab.txt"), cased=True, pretokenized=True)
    for text in ("본 발명 은 반도체 소자 에 관한 것 이 다 .", "기판 ##는 반도체"):
        if "##" in text:
            continue
        assert tokenizer.tokenize(text) == ours.tokenize(text)[1:-1]
    assert tokenizer.tokenize("반도체") == ["반도체"]  # no jamo split, no lower-casing


def test_hf_electra_generator_folder(exports):
    export_dir, _, _ = exports["electra"]
    with open(os.path.join(export_dir, "hf", "config.json")) as f:
        disc = json.load(f)
    with open(os.path.join(export_dir, "hf", "generator", "config.json")) as f:
        gen = json.load(f)
    assert (disc["architectures"], disc["hidden_act"], disc["embedding_size"]) == (
        ["ElectraForPreTraining"],
        "gelu",
        64,
    )
    assert (gen["architectures"], gen["hidden_size"], gen["embedding_size"]) == (
        ["ElectraForMaskedLM"],
        32,
        64,
    )


# ------------------------------------------------------------------ export command


def test_export_command_writes_formats_and_refuses_bad_input(exports, tmp_path, capsys):
    import shutil

    from components.model_formats.cli import export_command

    export_dir, _, _ = exports["bert"]
    out = tmp_path / "out"
    assert (
        export_command(["--export", export_dir, "--format", "google,hf,saved_model", "--out", str(out)]) == 0
    )
    for name in (
        "saved_model/saved_model.pb",
        "google/bert_model.ckpt.index",
        "hf/model.safetensors",
        "user.dic",
        "tokenizer_settings.json",
    ):
        assert (out / name).exists(), name

    partial = tmp_path / "partial"
    shutil.copytree(export_dir, partial)
    os.remove(partial / "checkpoint" / "pretrainer.index")
    target = tmp_path / "never"
    assert export_command(["--export", str(partial), "--out", str(target)]) == 2
    assert "pretrainer.index" in capsys.readouterr().err and not target.exists()
    assert export_command(["--export", export_dir, "--format", "onnx", "--out", str(target)]) == 2
    assert "onnx" in capsys.readouterr().err and not target.exists()
    assert export_command(["--export", export_dir, "--bogus"]) == 2


@pytest.mark.slow  # the demo_tfrecords fixture runs the demo corpus to tfrecords
def test_hf_tokenizer_on_the_demo_held_out_sentences(demo_tfrecords, tmp_path):
    """transformers' tokenizer from hf/'s files on the vocab stage's held-out morpheme lines:
    every difference from ours is one of the two documented kinds (README, train)."""
    import glob

    from components.model_formats.equivalence import tokenizer_differences
    from components.model_formats.huggingface import write_tokenizer_files

    (held_out,) = glob.glob(os.path.join(demo_tfrecords, "vocab", "sample", "eval-*.jsonl"))
    with open(held_out, encoding="utf-8") as f:
        lines = [json.loads(line)["morphemes"] for line in f]
    for flavour in ("bert", "electra"):
        vocab = os.path.join(demo_tfrecords, "vocab", flavour, "vocab.txt")
        folder = tmp_path / flavour
        folder.mkdir()
        write_tokenizer_files(str(folder), vocab, 512)
        counts = tokenizer_differences(str(folder), vocab, lines)
        assert counts["other"] == 0, counts["other_examples"]
        assert counts["lines"] == len(lines) > 100
        assert counts["identical_lines"] > 0.8 * counts["lines"], counts
