"""Quiet by default: what the terminal shows is the pipeline's own lines.

In: whether the user asked for `-v`. Out: the process's logging and warnings
set up, and environment variables that the child processes (Beam's workers,
the TFX trainer) inherit, so that they are quiet too.

Without `-v`, none of this reaches the terminal on a CPU machine: TensorFlow's
C++ start-up lines (`Unable to register cuDNN factory`, `Could not find
TensorRT`, `Local rendezvous is aborting ... OUT_OF_RANGE`), its Python
deprecation notices (`tf_record_iterator`), TFX's absl warnings
(`ArtifactQuery.property_predicate is not supported`, `Pusher is going to push
the model without validation`) and third-party `FutureWarning`s
(google-api-core's Python version notice). With `-v` they all show, with
Beam's INFO messages.

Pure standard library: call `configure` before TensorFlow, Beam or TFX is
imported (TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` once, when it loads).
"""

from __future__ import annotations

import logging
import os
import warnings

# Set by the CLI, read by child processes (`components.local_run`,
# `components.trainer`): "1" when the user asked for -v.
VERBOSE_ENV = "KORPAT_VERBOSE"

# Inherited by every child process; a value the user set wins.
QUIET_ENV = {
    # 3: TensorFlow's C++ logs only FATAL. The cuFFT/cuDNN/cuBLAS lines are
    # error-level on a machine without a GPU, so 2 is not enough.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # Python-level warnings of imported libraries, in Beam's worker processes too.
    "PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning",
    "GRPC_VERBOSITY": "ERROR",
}

# Python loggers of libraries that warn about themselves, not about the run.
# apache_beam.io.tfrecordio: "Couldn't find python-snappy" in every process that
# writes TFRecords (TFX's StatisticsGen in the train stage's child process too).
QUIET_LOGGERS = ("tensorflow", "absl", "h5py", "py.warnings", "apache_beam.io.tfrecordio")

# Beam reports these at WARNING (DirectRunner's workers on every start, the
# TFRecord sink when python-snappy is absent); they say nothing about the run.
BEAM_NOISE = ("semi_persistent_directory", "Discarding unparseable args", "Couldn't find python-snappy")


class DropBeamNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in BEAM_NOISE)


class MinLevel(logging.Filter):
    """Drops records below a level. On the logger itself, because libraries reset
    levels: absl's flag parsing sets the `absl` logger back to INFO."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


def is_verbose() -> bool:
    """What the CLI that started this process was asked (for child processes)."""
    return os.environ.get(VERBOSE_ENV) == "1"


def quiet_libraries(verbose: bool) -> None:
    """Environment, warning filters and library loggers; no handler is added."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        return
    os.environ.pop(VERBOSE_ENV, None)
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        if not any(isinstance(f, MinLevel) for f in logger.filters):
            logger.addFilter(MinLevel(logging.ERROR))


def configure(verbose: bool) -> None:
    """The CLI's logging: WARNING (INFO with -v) to stderr, libraries quiet unless -v."""
    quiet_libraries(verbose)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(DropBeamNoise())
