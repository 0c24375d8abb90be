"""The command line as a user meets it: strict options with suggestions, one-line
errors with exit 2 for every user mistake, Beam flags only after `--`, a help
that lists the stages, and quiet output (no library noise) unless -v."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline import cli
from tests.helpers import REPO, library_noise, read_tree, write_config


def _cli(*args, cwd=REPO, timeout=600):
    """`python -m pipeline ARGS` with the user's environment: no warning filters set."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _main(capsys, *args) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().err


def _fake_output(root, stage: str) -> None:
    folder = root / stage
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}", encoding="utf-8")
    (folder / "keep.txt").write_text("old output", encoding="utf-8")


# ------------------------------------------------------------------ strict options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--stages", "clean", "--dry-rn"], "unknown option '--dry-rn' (did you mean '--dry-run'?)"),
        (["run", "--forse"], "unknown option '--forse' (did you mean '--force'?)"),
        (["stats", "x", "--limt", "3"], "unknown option '--limt' (did you mean '--limit'?)"),
        (["rnu"], "invalid choice: 'rnu'"),
        (["tokenize", "문장", "--mode", "kopat"], "(did you mean 'korpat'?)"),
        (["status", "--", "--direct_num_workers=1"], "takes no Beam flags"),
        (["run", "--direct_num_workers=1"], "put Beam flags last, after `--`"),
        (["run", "--dry"], "unknown option '--dry' (did you mean '--dry-run'?)"),
        (["--force", "run"], "--force goes after the command"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_a_mistake_on_the_command_line_is_one_line_and_exit_2(capsys, args, message):
    code, err = _main(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert message in err


def test_a_typo_runs_nothing_and_deletes_nothing(tmp_path, tiny_inputs, capsys):
    config = write_config(tmp_path, tiny_inputs)
    _fake_output(tmp_path / "out", "clean")
    before = read_tree(tmp_path / "out")
    code, err = _main(capsys, "run", "--stages", "clean", "--dry-rn", "--config", config)
    assert code == 2 and "did you mean '--dry-run'" in err
    assert read_tree(tmp_path / "out") == before


def test_unknown_stage_and_unknown_beam_flag_get_suggestions(tmp_path, tiny_inputs, capsys):
    config = write_config(tmp_path, tiny_inputs)
    code, err = _main(capsys, "run", "--stages", "clen", "--config", config)
    assert code == 2
    assert err.strip().splitlines() == [
        "error: unknown stage 'clen' (did you mean 'clean'?); stages are: " + ", ".join(cli.STAGES)
    ]
    code, err = _main(capsys, "stage", "nuons", "--config", config)
    assert code == 2 and "(did you mean 'nouns'?)" in err
    code, err = _main(capsys, "run", "--to", "clean", "--config", config, "--", "--direct_num_workrs=1")
    assert code == 2
    assert err.strip().splitlines() == [
        "error: unknown Beam flag '--direct_num_workrs' (did you mean '--direct_num_workers'?)"
    ]
    assert not (tmp_path / "out").exists()


def test_beam_flags_after_the_separator_reach_beam(tmp_path, tiny_inputs, capsys):
    """A bad value after `--` is Beam's to judge: refused before anything is written."""
    config = write_config(tmp_path, tiny_inputs)
    code, err = _main(capsys, "stage", "ingest", "--config", config, "--", "--direct_num_workers=abc")
    assert code == 2
    assert "--direct_num_workers: invalid int value: 'abc'" in err
    assert not (tmp_path / "out" / "ingest").exists()


def test_help_lists_the_stages_examples_and_the_beam_separator(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "stages, in run order: " + ", ".join(cli.STAGES) in out
    assert "examples:" in out and "run -- --direct_num_workers=1" in out
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "Beam flags: after a `--` separator" in capsys.readouterr().out


def test_the_help_stage_list_is_the_stage_table():
    from pipeline.run.registry import stage_table

    assert tuple(stage_table()) == cli.STAGES


def test_every_command_row_names_a_handler_that_exists():
    for name, command in cli.COMMANDS.items():
        assert callable(cli._handler(command.handler)), name


# ------------------------------------------------------------------ user mistakes, one line


def test_missing_upstream_and_missing_export_are_one_line(tmp_path, tiny_inputs, capsys):
    config = write_config(tmp_path, tiny_inputs)
    code, err = _main(capsys, "stage", "morph", "--config", config)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("error: stage morph needs ") and line.endswith(
        "which has not finished; run it first"
    )
    code, err = _main(capsys, "finetune", "--config", config)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no trained" in err


def test_stats_on_a_parquet_file_is_one_line_and_quiet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "part-00000-of-00001.parquet"
    pq.write_table(pa.table({"text": ["반도체 기판을 세정한다."] * 50}), path)
    done = _cli("stats", str(path), "--no-tfdv")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {path}: not a TFRecord file (bad record header) (--debug shows the traceback)"
    ]
    debug = _cli("stats", str(path), "--no-tfdv", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    # -v shows what the libraries say (here: TensorFlow starting, google-api-core's notice).
    verbose = _cli("-v", "stats", str(path), "--no-tfdv")
    assert verbose.returncode == 2 and library_noise(verbose.stderr)


# ------------------------------------------------------------------ quiet by default


@pytest.mark.slow
def test_the_demo_log_has_no_library_noise(tmp_path, tiny_inputs):
    """ingest -> clean through the CLI (DirectRunner's worker processes included),
    then tokenize: every line on stderr is the pipeline's own."""
    config = write_config(tmp_path, tiny_inputs)
    done = _cli("run", "--to", "clean", "--config", config)
    assert done.returncode == 0, done.stderr[-3000:]
    assert library_noise(done.stderr) == []
    own = [line for line in done.stderr.splitlines() if line.strip()]
    # The pipeline's own lines: `[stage] ...` (progress, summaries) and the counter tables.
    assert all(line.startswith(("[", " ")) for line in own), own

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "반도체", "기판", "을"]) + "\n")
    tokens = _cli("tokenize", "반도체 기판을", "--vocab", str(vocab))
    assert tokens.returncode == 0, tokens.stderr
    assert tokens.stderr == "" and "pieces:    [CLS] 반도체 기판 을 [SEP]" in tokens.stdout
