"""Where a publication's sentences go, and the seeds they are drawn with.

In:  a publication id (doc_id), the global seed and a key (output, split, bucket).
Out: its split (`split_of`: 'eval' for a stable share), its bucket
     (`bucket_of`: a stable hash), and a 64-bit seed per key (`seed_for`): the
     same in every process, on every runner and in every Python version, so
     the tfrecords stage writes the same files whatever the worker count.
"""

from __future__ import annotations

import hashlib

from pipeline.io.filesystems import stable_shard


def seed_for(global_seed: int, *parts: object) -> int:
    """A 64-bit seed derived from the global seed and a key (split, bucket...).

    sha256 of the text, not hash(): the same in every process and Python version.
    """
    text = "/".join(str(p) for p in (global_seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def bucket_of(doc_id: str, num_buckets: int) -> int:
    return stable_shard(doc_id, num_buckets)


def split_of(doc_id: str, eval_percent: float) -> str:
    """'eval' for a stable `eval_percent` share of publications, else 'train'."""
    h = int.from_bytes(hashlib.sha256(doc_id.encode("utf-8")).digest()[:4], "big")
    return "eval" if h % 10000 < round(eval_percent * 100) else "train"
