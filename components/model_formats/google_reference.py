"""google-research/bert's own modeling.py (the bert-tensorflow 1.0.4 wheel) as an independent check.

Needs the dev requirements' bert-tensorflow wheel (`bert` package). Run as a child process
(it needs TF_USE_LEGACY_KERAS=1 for tf.compat.v1.layers); `equivalence --google-modeling`
and the tests do:

    python -m components.model_formats.google_reference restore GOOGLE_DIR INPUTS.npz OUT.npz
        builds BertModel + run_pretraining.py's heads from GOOGLE_DIR/bert_config.json,
        restores GOOGLE_DIR's checkpoint into them, fails on any variable missing
        from the checkpoint or left over in it, and writes sequence_output,
        pooled_output, mlm_log_probs and nsp_log_probs for the inputs.
    python -m components.model_formats.google_reference write DIR
        writes a KorPatBERT-like release with random tiny weights: model.ckpt-7
        (weights + Adam slots + global_step), korpat_bert_config.json, korpat_vocab.txt.

The wheel's layer_norm imports tensorflow.contrib, which TF2 lacks; a few-line
stand-in creates the same `LayerNorm/beta` and `LayerNorm/gamma` variables.
"""

from __future__ import annotations

import json
import os
import sys
import types

import numpy as np


def load_google():
    import tensorflow as tf

    tf1 = tf.compat.v1

    def layer_norm(inputs, begin_norm_axis=-1, begin_params_axis=-1, scope=None):
        with tf1.variable_scope(scope, default_name="LayerNorm"):
            width = inputs.shape[-1]
            beta = tf1.get_variable("beta", [width], initializer=tf1.zeros_initializer())
            gamma = tf1.get_variable("gamma", [width], initializer=tf1.ones_initializer())
            mean, variance = tf1.nn.moments(inputs, [-1], keepdims=True)
            return tf1.nn.batch_normalization(inputs, mean, variance, beta, gamma, 1e-12)

    contrib = types.ModuleType("tensorflow.contrib")
    contrib.layers = types.SimpleNamespace(layer_norm=layer_norm)
    real = sys.modules["tensorflow"]
    sys.modules["tensorflow"] = tf1  # the wheel's `import tensorflow as tf`, as TF1
    sys.modules["tensorflow.contrib"] = contrib
    try:
        from bert import modeling, run_pretraining
    finally:
        sys.modules["tensorflow"] = real
        del sys.modules["tensorflow.contrib"]
    return tf1, modeling, run_pretraining


def build(tf1, modeling, run_pretraining, config, seq_length, predictions):
    ids = tf1.placeholder(tf1.int32, [None, seq_length], name="input_ids")
    mask = tf1.placeholder(tf1.int32, [None, seq_length], name="input_mask")
    types_ = tf1.placeholder(tf1.int32, [None, seq_length], name="segment_ids")
    positions = tf1.placeholder(tf1.int32, [None, predictions], name="masked_lm_positions")
    model = modeling.BertModel(
        config, False, ids, input_mask=mask, token_type_ids=types_, use_one_hot_embeddings=False
    )
    weights = tf1.ones_like(positions, tf1.float32)
    _, _, mlm_log_probs = run_pretraining.get_masked_lm_output(
        config,
        model.get_sequence_output(),
        model.get_embedding_table(),
        positions,
        tf1.zeros_like(positions),
        weights,
    )
    _, _, nsp_log_probs = run_pretraining.get_next_sentence_output(
        config, model.get_pooled_output(), tf1.zeros_like(ids[:, 0])
    )
    placeholders = {
        "input_word_ids": ids,
        "input_mask": mask,
        "input_type_ids": types_,
        "masked_lm_positions": positions,
    }
    outputs = {
        "sequence_output": model.get_sequence_output(),
        "pooled_output": model.get_pooled_output(),
        "mlm_log_probs": tf1.reshape(mlm_log_probs, [-1, predictions, config.vocab_size]),
        "nsp_log_probs": nsp_log_probs,
    }
    return placeholders, outputs


def restore(folder: str, inputs_path: str, out_path: str) -> None:
    import tensorflow as tf

    tf1, modeling, run_pretraining = load_google()
    config = modeling.BertConfig.from_json_file(os.path.join(folder, "bert_config.json"))
    prefix = tf.train.latest_checkpoint(folder)
    inputs = dict(np.load(inputs_path))
    graph = tf.Graph()
    with graph.as_default():
        placeholders, outputs = build(
            tf1,
            modeling,
            run_pretraining,
            config,
            inputs["input_word_ids"].shape[1],
            inputs["masked_lm_positions"].shape[1],
        )
        variables = {v.op.name: v for v in tf1.global_variables()}
        in_file = dict(tf.train.list_variables(prefix))
        missing = sorted(set(variables) - set(in_file))
        unexpected = sorted(set(in_file) - set(variables))
        if missing or unexpected:
            raise SystemExit(f"missing {missing}, unexpected {unexpected}")
        for name, variable in variables.items():
            if list(variable.shape) != list(in_file[name]):
                raise SystemExit(f"{name}: graph {variable.shape}, file {in_file[name]}")
        saver = tf1.train.Saver(var_list=variables)
        with tf1.Session(graph=graph) as session:
            saver.restore(session, prefix)
            values = session.run(outputs, {placeholders[k]: inputs[k] for k in placeholders})
    np.savez(out_path, **values, variables=np.array(sorted(variables)))


def write(folder: str) -> None:
    import tensorflow as tf

    tf1, modeling, run_pretraining = load_google()
    os.makedirs(folder, exist_ok=True)
    tokens = ["<unk>", "<s>", "</s>", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [f"토큰{i}" for i in range(120 - len(tokens))]
    with open(os.path.join(folder, "korpat_vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    raw = {
        "attention_probs_dropout_prob": 0.1,
        "directionality": "bidi",
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 48,
        "initializer_range": 0.02,
        "intermediate_size": 96,
        "max_position_embeddings": 64,
        "num_attention_heads": 3,
        "num_hidden_layers": 2,
        "pooler_fc_size": 48,
        "pooler_num_attention_heads": 3,
        "pooler_num_fc_layers": 3,
        "pooler_size_per_head": 128,
        "pooler_type": "first_token_transform",
        "type_vocab_size": 2,
        "vocab_size": len(tokens),
    }
    with open(os.path.join(folder, "korpat_bert_config.json"), "w") as f:
        json.dump(raw, f, indent=2)
    config = modeling.BertConfig.from_dict(raw)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(3)
        build(tf1, modeling, run_pretraining, config, 16, 4)
        weights = list(tf1.global_variables())
        # KorPatBERT's checkpoint also holds Adam slots and the step: ignored on import.
        slots = []
        for v in weights:
            for slot in ("adam_m", "adam_v"):
                slots.append(
                    tf1.get_variable(f"{v.op.name}/{slot}", v.shape, initializer=tf1.ones_initializer())
                )
        step = tf1.train.get_or_create_global_step()
        # Non-trivial values everywhere (biases and LayerNorm too).
        noise = [
            tf1.assign_add(v, tf1.random.normal(v.shape, stddev=0.05, seed=i)) for i, v in enumerate(weights)
        ]
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            session.run(noise)
            session.run(tf1.assign(step, 381250))
            tf1.train.Saver(var_list=weights + slots + [step]).save(
                session, os.path.join(folder, "model.ckpt-7")
            )


if __name__ == "__main__":
    if sys.argv[1] == "restore":
        restore(*sys.argv[2:5])
    elif sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        raise SystemExit(__doc__)
