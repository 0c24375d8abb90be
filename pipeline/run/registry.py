"""The one table of stages, in run order: the only module that imports every stage."""

from __future__ import annotations

from pipeline.run.stage import Stage
from pipeline.stages import clean, dictionary, ingest, morph, nouns, tfrecords, train, vocab


def stage_table() -> dict[str, Stage]:
    """The stages in run order, by name."""

    stages = [
        ingest.STAGE,
        clean.STAGE,
        nouns.STAGE,
        dictionary.STAGE,
        morph.STAGE,
        vocab.STAGE,
        tfrecords.STAGE,
        train.STAGE,
    ]
    return {s.name: s for s in stages}
