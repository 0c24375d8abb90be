"""pipeline.logs: quiet unless -v, in this process and in the children it starts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from pipeline import logs


@pytest.fixture
def clean_state(monkeypatch):
    """Environment and library loggers as a fresh process has them; restored after."""
    for name in (*logs.QUIET_ENV, logs.VERBOSE_ENV):
        monkeypatch.delenv(name, raising=False)
    saved = {}
    for name in logs.QUIET_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, list(logger.filters))
    yield
    for name, (level, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.filters[:] = filters


def test_quiet_sets_the_environment_children_inherit(clean_state):
    logs.quiet_libraries(verbose=False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert "ignore::FutureWarning" in os.environ["PYTHONWARNINGS"]
    assert not logs.is_verbose()


def test_a_value_the_user_set_wins(clean_state, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    logs.quiet_libraries(verbose=False)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_verbose_leaves_everything_and_tells_the_children(clean_state):
    logs.quiet_libraries(verbose=True)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert logs.is_verbose()
    child = subprocess.run(
        [sys.executable, "-c", "from pipeline import logs; print(logs.is_verbose())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "True"


def test_absl_warnings_stay_dropped_when_a_library_resets_the_level(clean_state):
    logs.quiet_libraries(verbose=False)
    absl = logging.getLogger("absl")
    absl.setLevel(logging.INFO)  # what absl's flag parsing does
    record = absl.makeRecord("absl", logging.WARNING, __file__, 1, "Pusher is going to push", (), None)
    assert not absl.filter(record)
    error = absl.makeRecord("absl", logging.ERROR, __file__, 1, "a real failure", (), None)
    assert absl.filter(error)


def test_beam_worker_notices_are_dropped():
    noise = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "Discarding unparseable args: [...]", (), None
    )
    real = logging.LogRecord("x", logging.WARNING, __file__, 1, "stage clean: 3 shards", (), None)
    assert not logs.DropBeamNoise().filter(noise)
    assert logs.DropBeamNoise().filter(real)
