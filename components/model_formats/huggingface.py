"""A Hugging Face transformers folder from Google-named weights (and back).

    hf/config.json              BertConfig (BertForPreTraining) / ElectraConfig (ElectraForPreTraining)
    hf/model.safetensors        the pretraining heads included (PyTorch names and layouts)
    hf/vocab.txt, tokenizer_config.json, special_tokens_map.json   case and accents kept
    hf/README.md                model card: text must be morpheme-split with Mecab-ko first
    hf/generator/               ELECTRA only: the generator as ElectraForMaskedLM

Names follow the rules of transformers' `load_tf_weights_in_bert` /
`load_tf_weights_in_electra`: `/` -> `.`, `layer_N` -> `layer.N`, kernels are
transposed (torch Linear weights are [out, in]), gamma/beta -> weight/bias,
`*_embeddings` -> `*_embeddings.weight`. The file is written with numpy and the
`safetensors` package alone (no torch).

Activation: our BERT's gelu is the tanh approximation, which transformers
calls `gelu_new`; ELECTRA's is the exact `gelu` (as transformers' ELECTRA,
whose generator head always uses the exact form).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from components.model_formats import ModelFormatError

WEIGHTS_FILE = "model.safetensors"
SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}


def hf_name(google: str, part: str = "bert") -> tuple[str, bool]:
    """(transformers parameter name, transpose?) of a Google variable.

    part: "bert" (BertForPreTraining), "discriminator" (ElectraForPreTraining) or
    "generator" (ElectraForMaskedLM)."""
    name = google
    if part == "discriminator":
        name = name.replace(
            "discriminator_predictions/dense_1/", "discriminator_predictions/dense_prediction/"
        )
    elif part == "generator":
        name = re.sub(r"^generator/", "electra/", name)
        name = name.replace("generator_predictions/output_bias", "generator_lm_head/bias")
    pieces = name.split("/")
    leaf = pieces[-1]
    transpose = False
    if leaf == "kernel":
        pieces[-1], transpose = "weight", True
    elif leaf in ("gamma", "output_weights"):
        pieces[-1] = "weight"
    elif leaf in ("beta",):
        pieces[-1] = "bias"
    elif leaf == "output_bias":
        pieces[-1] = "bias"  # cls/predictions/output_bias -> cls.predictions.bias
    elif leaf.endswith("_embeddings"):
        pieces.append("weight")
    pieces = [re.sub(r"^layer_(\d+)$", r"layer.\1", p) for p in pieces]
    return ".".join(pieces), transpose


def _parts(tensors: Mapping[str, np.ndarray], electra: bool) -> dict[str, list[str]]:
    """Google names per exported HF model."""
    if not electra:
        return {"bert": sorted(tensors)}
    generator = [
        n for n in tensors if n.startswith(("generator/", "generator_predictions/", "electra/embeddings/"))
    ]
    discriminator = [n for n in tensors if n.startswith(("electra/", "discriminator_predictions/"))]
    return {"discriminator": sorted(discriminator), "generator": sorted(generator)}


def hf_state(tensors: Mapping[str, np.ndarray], names: list[str], part: str) -> dict[str, np.ndarray]:
    out = {}
    for google in names:
        name, transpose = hf_name(google, part)
        value = tensors[google]
        out[name] = np.ascontiguousarray(value.T if transpose else value, dtype=np.float32)
    return out


def google_from_hf(
    state: Mapping[str, np.ndarray], google_shapes: Mapping[str, tuple], part: str, source: str
):
    """Google-named tensors for `google_shapes`' names from a transformers state dict."""
    out = {}
    missing = []
    for google in google_shapes:
        name, transpose = hf_name(google, part)
        if name not in state:
            missing.append(name)
            continue
        value = np.asarray(state[name], np.float32)
        out[google] = value.T if transpose else value
    if missing:
        raise ModelFormatError(f"{source}: missing {len(missing)} tensors: {', '.join(missing[:8])}")
    return out


def bert_hf_config(config: Mapping[str, Any], pad_id: int) -> dict[str, Any]:
    from components.trainer.models import korpat_extra

    electra = config.get("model_type") == "electra"
    out = {
        "architectures": ["ElectraForPreTraining" if electra else "BertForPreTraining"],
        "model_type": "electra" if electra else "bert",
        "vocab_size": config["vocab_size"],
        "hidden_size": config["hidden_size"],
        "num_hidden_layers": config["num_hidden_layers"],
        "num_attention_heads": config["num_attention_heads"],
        "intermediate_size": config["intermediate_size"],
        "hidden_act": _hf_activation(config),
        "hidden_dropout_prob": config["hidden_dropout_prob"],
        "attention_probs_dropout_prob": config["attention_probs_dropout_prob"],
        "max_position_embeddings": config["max_position_embeddings"],
        "type_vocab_size": config["type_vocab_size"],
        "initializer_range": config["initializer_range"],
        "layer_norm_eps": 1e-12,
        "pad_token_id": pad_id,
        "position_embedding_type": "absolute",
    }
    if electra:
        out["embedding_size"] = config.get("embedding_size", config["hidden_size"])
    else:
        out.update(korpat_extra(config))
    return out


def _hf_activation(config: Mapping[str, Any]) -> str:
    act = config["hidden_act"]
    if act == "gelu":
        return "gelu" if config.get("model_type") == "electra" else "gelu_new"
    return act


def write_safetensors(state: Mapping[str, np.ndarray], path: str) -> None:
    from safetensors.numpy import save_file

    save_file(dict(state), path, metadata={"format": "pt"})


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ModelFormatError(f"{path}: not a readable safetensors file ({error})") from error


def write_tokenizer_files(folder: str, vocab_path: str, model_max_length: int) -> None:
    """vocab.txt + tokenizer_config.json + special_tokens_map.json: BertTokenizer that keeps
    case and accents (its defaults would split Hangul into jamo, nearly all [UNK])."""
    import shutil

    shutil.copyfile(vocab_path, os.path.join(folder, "vocab.txt"))
    _write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": False,
            "strip_accents": False,
            "tokenize_chinese_chars": True,
            "do_basic_tokenize": True,
            "model_max_length": model_max_length,
            "clean_up_tokenization_spaces": False,
            **SPECIAL_TOKENS,
        },
    )
    _write_json(os.path.join(folder, "special_tokens_map.json"), SPECIAL_TOKENS)


MODEL_CARD = """---
language: ko
tags: [patent, korean, {model_type}, korpatbert]
---
# {title}

{description}, pretrained on Korean patent text by the KorPat pipeline
(step {step}, max_seq_length {max_seq_length}).

**Text must be morpheme-split first.** Pretraining saw sentences analysed by
Mecab-ko (mecab-ko-dic, python-mecab-ko){user_dic_phrase}, morphemes joined by
single spaces, then WordPiece. `tokenizer_settings.json` records the rule and
settings. Without that step the vocabulary sees unsplit eojeols and most words
become `[UNK]`.

```python
import mecab  # pip install python-mecab-ko
from transformers import AutoTokenizer, {auto_class}

analyzer = mecab.MeCab({mecab_args})
text = " ".join(analyzer.morphs("본 발명은 반도체 소자에 관한 것이다."))
tokenizer = AutoTokenizer.from_pretrained(".")  # keeps case and accents
model = {auto_class}.from_pretrained(".")
outputs = model(**tokenizer(text, return_tensors="pt"))
```

Differences from the pipeline's own tokenizer (KorPatBERT's bidirectional
WordPiece, `pipeline.text.tokenizer`): transformers' BertTokenizer splits each word
forward only, where KorPatBERT's rule sometimes keeps the backward split, and
writes one `[UNK]` per unknown word where ours writes one per unknown
character. On the demo's held-out sentences 83-95% of sentences come out
identical; use the pipeline's tokenizer to reproduce pretraining exactly.

Weights: `{architecture}` with the pretraining heads. `hidden_act` is
`{hidden_act}`, the activation the model was trained with. The same weights
under Google's names are in the export's `google/` folder, and a TensorFlow
SavedModel in its `saved_model/`.
"""


def write_model_card(
    folder: str, config: Mapping[str, Any], export_config: Mapping[str, Any], user_dic: bool = False
) -> None:
    electra = config["model_type"] == "electra"
    generator = config["architectures"][0] == "ElectraForMaskedLM"
    role = "generator" if generator else "discriminator"
    size = f"L{config['num_hidden_layers']}, H{config['hidden_size']}, A{config['num_attention_heads']}"
    text = MODEL_CARD.format(
        model_type=config["model_type"],
        title=f"KorPat ELECTRA ({role})" if electra else "KorPat BERT",
        description=f"An ELECTRA {role} ({size})" if electra else f"A BERT ({size})",
        user_dic_phrase=(
            " with this folder's `user.dic` (a user dictionary of patent nouns; `user.csv` is its source)"
            if user_dic
            else " (no user dictionary)"
        ),
        mecab_args='user_dictionary_path="user.dic"' if user_dic else "",
        step=export_config.get("step", "?"),
        max_seq_length=export_config.get("max_seq_length", "?"),
        auto_class=config["architectures"][0],
        architecture=config["architectures"][0],
        hidden_act=config["hidden_act"],
    )
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


def write_hf(
    tensors: Mapping[str, np.ndarray],
    config: Mapping[str, Any],
    folder: str,
    vocab_path: str,
    pad_id: int,
    extra_files: Mapping[str, str] = (),
) -> dict:
    """hf/ (and hf/generator/ for ELECTRA) from Google-named tensors."""
    electra = config.get("model_type") == "electra"
    written = {}
    for part, names in _parts(tensors, electra).items():
        target = os.path.join(folder, "generator") if part == "generator" else folder
        os.makedirs(target, exist_ok=True)
        model_config = dict(config["generator"]) if part == "generator" else dict(config)
        model_config["model_type"] = config.get("model_type", "bert")
        hf_config = bert_hf_config(model_config, pad_id)
        if part == "generator":
            hf_config["architectures"] = ["ElectraForMaskedLM"]
        state = hf_state(tensors, names, part)
        write_safetensors(state, os.path.join(target, WEIGHTS_FILE))
        _write_json(os.path.join(target, "config.json"), hf_config)
        write_tokenizer_files(target, vocab_path, config["max_position_embeddings"])
        for name, path in dict(extra_files).items():
            import shutil

            shutil.copyfile(path, os.path.join(target, name))
        card_config = {**hf_config, "model_type": model_config["model_type"]}
        write_model_card(target, card_config, config, user_dic="user.dic" in dict(extra_files))
        written[part] = len(state)
    return written


def _write_json(path: str, data: Mapping[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
