"""Training settings: one frozen, JSON-able dataclass.

It travels through TFX `custom_config` as a plain dict (`to_dict()` /
`from_dict()`), so every field is a str, int, float or bool.
"""

from __future__ import annotations

import dataclasses
from typing import Any

MODEL_TYPES = ("bert", "electra")
MODEL_SIZES = ("tiny", "small", "base")
MIXED_PRECISION = ("auto", "on", "off")
MASKING = ("static", "dynamic")

# Peak learning rate by model size when `learning_rate` is not given. tiny and
# small are for smoke runs and tests: a high rate makes them learn visibly in a
# few dozen steps. base follows KorPatBERT / Google BERT-base (1e-4).
DEFAULT_LEARNING_RATES = {"tiny": 2e-3, "small": 5e-4, "base": 1e-4}


def _field(default: Any, help: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What to train and how; `from_dict` rejects unknown keys."""

    model_type: str = _field("bert", "bert (MLM + NSP) or electra (generator + discriminator).")
    model_size: str = _field("tiny", "Preset in models.MODEL_SIZES: tiny, small or base (KorPatBERT).")
    vocab_size: int = _field(0, "Vocabulary size; 0 means the number of lines of the vocab file.")
    seq_length: int = _field(128, "Sequence length of the records (128 in phase 1, 512 in phase 2).")
    max_predictions: int = _field(
        20, "bert: masked positions per record (as written); electra: how many to mask dynamically."
    )
    train_steps: int = _field(60, "Total optimizer steps (a resumed run stops at this step too).")
    eval_steps: int = _field(10, "Batches in the eval pass at the end (fewer if the eval data ends).")
    global_batch_size: int = _field(16, "Examples per step over all replicas (divisible by them).")
    learning_rate: float | None = _field(
        None, "Peak learning rate; None picks DEFAULT_LEARNING_RATES[model_size]."
    )
    warmup_steps: int = _field(10, "Linear warmup steps from 0 to learning_rate.")
    weight_decay: float = _field(0.01, "AdamW decoupled weight decay (not on LayerNorm or biases).")
    checkpoint_every: int = _field(20, "Save a checkpoint every this many steps (and at the end).")
    summary_every: int = _field(10, "TensorBoard summaries and a progress line every this many steps.")
    keep_checkpoints: int = _field(3, "Checkpoints kept in checkpoint_dir.")
    seed: int = _field(0, "Seed for initialisation, shuffling and dynamic masking.")
    mixed_precision: str = _field("auto", "mixed_float16: auto (only on GPUs), on or off.")
    v2_feature_names: bool = _field(
        False, "Records use input_word_ids / input_type_ids instead of input_ids / segment_ids."
    )
    masking: str = _field(
        "static",
        "bert: static (records carry Google's masks) or dynamic (records carry word_ids; "
        "inputs.whole_word_mask masks whole words per batch, anew each epoch).",
    )
    masked_lm_prob: float = _field(0.15, "bert, dynamic masking: share of tokens masked.")
    electra_mask_prob: float = _field(0.15, "ELECTRA: share of real tokens masked ([CLS]/[SEP] never).")
    electra_discriminator_weight: float = _field(50.0, "ELECTRA: weight of the replaced-token loss.")
    shuffle_buffer: int = _field(10000, "Records in the training shuffle buffer.")
    vocab_path: str = _field("", "vocab.txt copied into the export (train() may pass it instead).")
    init_checkpoint: str = _field(
        "",
        "Start from this model: a Google-layout BERT folder (*.ckpt* + bert_config.json or *_config.json "
        "+ vocab.txt, e.g. KorPatBERT's), an hf/ folder or an export. Its config sets the model size; "
        "encoder and pretraining heads are restored, the optimizer and step start fresh.",
    )
    user_dictionary: str = _field(
        "", "Mecab-ko user.dic the records were analysed with (copied into the export)."
    )
    user_csv: str = _field("", "The user dictionary's source CSV (copied into the export).")
    tokenizer_mode: str = _field(
        "fast", "pipeline.text.tokenizer mode recorded in the export (korpat or fast)."
    )

    def __post_init__(self) -> None:
        errors = []
        if self.model_type not in MODEL_TYPES:
            errors.append(f"model_type must be one of {MODEL_TYPES}, got {self.model_type!r}")
        if self.model_size not in MODEL_SIZES:
            errors.append(f"model_size must be one of {MODEL_SIZES}, got {self.model_size!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            errors.append(f"mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}")
        for name in ("seq_length", "max_predictions", "train_steps", "global_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                errors.append(f"{name} must be a positive int, got {getattr(self, name)!r}")
        for name in ("checkpoint_every", "summary_every", "keep_checkpoints", "shuffle_buffer"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                errors.append(f"{name} must be a positive int, got {getattr(self, name)!r}")
        for name in ("vocab_size", "eval_steps", "warmup_steps", "seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                errors.append(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        if isinstance(self.seq_length, int) and self.seq_length > 512:
            errors.append(f"seq_length must be <= 512 (max_position_embeddings), got {self.seq_length}")
        if self.masking not in MASKING:
            errors.append(f"masking must be one of {MASKING}, got {self.masking!r}")
        if not 0.0 < self.masked_lm_prob < 1.0:
            errors.append(f"masked_lm_prob must be in (0, 1), got {self.masked_lm_prob!r}")
        if not 0.0 < self.electra_mask_prob < 1.0:
            errors.append(f"electra_mask_prob must be in (0, 1), got {self.electra_mask_prob!r}")
        if self.tokenizer_mode not in ("korpat", "fast"):
            errors.append(f"tokenizer_mode must be korpat or fast, got {self.tokenizer_mode!r}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            errors.append(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if errors:
            raise ValueError("invalid TrainSettings: " + "; ".join(errors))
        if self.learning_rate is None:
            # Resolved here so that to_dict() records the rate actually used.
            object.__setattr__(self, "learning_rate", DEFAULT_LEARNING_RATES[self.model_size])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSettings:
        """Settings from a plain dict; ValueError naming any unknown key."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainSettings keys: {', '.join(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainSettings:
        return dataclasses.replace(self, **changes)
