"""Read back what `train.export_encoder` wrote."""

from __future__ import annotations

import json
import os

# checkpoint/pretrainer.*: the whole pretrainer (heads, ELECTRA's generator) in an export.
PRETRAINER = "pretrainer"


def load_encoder(export_dir: str):
    """(BertEncoder rebuilt from config.json with checkpoint/encoder restored, the config dict).

    Raises if any checkpoint value or encoder variable is left unmatched.
    """
    import tensorflow as tf

    from components.trainer.models import build_encoder

    with tf.io.gfile.GFile(os.path.join(export_dir, "config.json")) as f:
        config = json.load(f)
    encoder = build_encoder(config)
    status = tf.train.Checkpoint(encoder=encoder).read(os.path.join(export_dir, "checkpoint", "encoder"))
    status.assert_consumed()
    return encoder, config
