"""The runner at corpus scale: one writer per output root, nothing deleted before the
new output is complete, paths never read as globs, and no stage reading a stale or
damaged upstream (issue 16, runner side).

Most tests run the runner on two toy stages (no Beam job) in this process; the ones
that say so run the CLI on a one-publication corpus.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.io import filesystems
from pipeline.run import runner
from pipeline.run.lock import LOCK_FILE, OutputLock, OutputLocked
from pipeline.run.stage import Stage
from tests.helpers import REPO, read_tree, run_cli, write_config

# ------------------------------------------------------------------ toy stages


def _write(ctx, rel, text):
    path = os.path.join(ctx.output_dir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


WRITTEN_TO = []


def _ingest(ctx, extra_args):
    WRITTEN_TO.append(ctx.output_dir)
    _write(ctx, "part-0.txt", ctx.config.ingest.__class__.__name__ + " shard 0\n")
    _write(ctx, "sub/part-1.txt", "shard 1\n")
    return {"written": 2}


def _clean(ctx, extra_args):
    with open(os.path.join(ctx.upstream_dirs["ingest"], "part-0.txt"), encoding="utf-8") as f:
        _write(ctx, "clean.txt", f.read().upper())
    return {"written": 1}


def _failing(ctx, extra_args):
    _write(ctx, "part-0.txt", "half of a new output")
    raise RuntimeError("worker lost")


TOY = {
    "ingest": Stage("ingest", (), {"v": "1"}, None, execute=_ingest),
    "clean": Stage("clean", ("ingest",), {"v": "1"}, None, execute=_clean),
}


@pytest.fixture
def toy(tmp_path, tiny_inputs):
    """(config, output root) for the toy stages."""
    config = load_config(write_config(tmp_path, tiny_inputs))
    return config, str(tmp_path / "out")


def _states(config, stages=TOY, **kwargs):
    return {s.name: (s.state, s.detail) for s in runner.stage_status(config, stages, **kwargs)}


def _run(config, name, stages=TOY, force=True):
    return runner.run_stage(config, stages[name], stages, [], force=force)


# ------------------------------------------------------------------ staging and swap


def test_stage_writes_beside_the_old_output_and_swaps_it_in(toy):
    config, root = toy
    manifest = _run(config, "ingest")
    assert WRITTEN_TO[-1] == os.path.join(root, ".staging", "ingest")
    assert sorted(os.listdir(root)) == ["ingest"]  # no .staging, no lock left
    assert sorted(os.listdir(os.path.join(root, "ingest"))) == ["manifest.json", "part-0.txt", "sub"]
    assert set(manifest["files"]) == {"part-0.txt", "sub/part-1.txt"}
    record = manifest["files"]["sub/part-1.txt"]
    assert record["size"] == 8 and len(record["crc32"]) == 8
    assert _states(config)["ingest"][0] == "done"


def test_failed_rerun_leaves_the_previous_output_and_manifest(toy):
    config, root = toy
    _run(config, "ingest")
    before = read_tree(root)
    failing = {**TOY, "ingest": Stage("ingest", (), {"v": "1"}, None, execute=_failing)}
    with pytest.raises(RuntimeError, match="worker lost"):
        _run(config, "ingest", failing)
    assert read_tree(root) == before  # the half-written attempt is gone too
    assert sorted(os.listdir(root)) == ["ingest"]
    assert _states(config)["ingest"][0] == "done"


def test_swap_killed_between_renames_is_restored(toy):
    config, root = toy
    _run(config, "ingest")
    os.makedirs(os.path.join(root, ".staging"))
    os.rename(os.path.join(root, "ingest"), os.path.join(root, ".staging", "ingest.old"))
    assert _states(config)["ingest"][0] == "missing"
    assert _run(config, "ingest", force=False) is None  # restored, then up to date
    assert _states(config)["ingest"][0] == "done"


def test_keep_output_stage_writes_in_place(toy):
    config, root = toy
    keep = {"ingest": Stage("ingest", (), {"v": "1"}, None, execute=_ingest, keep_output=True)}
    _run(config, "ingest", keep)
    kept = os.path.join(root, "ingest", "checkpoint")
    with open(kept, "w") as f:
        f.write("resume from here")
    manifest = _run(config, "ingest", keep)
    assert os.path.exists(kept) and "files" not in manifest
    assert not os.path.exists(os.path.join(root, ".staging"))


# ------------------------------------------------------------------ upstream integrity


def test_status_names_a_truncated_missing_or_changed_upstream_file(toy):
    config, root = toy
    _run(config, "ingest")
    _run(config, "clean")
    assert {s for s, _ in _states(config).values()} == {"done"}
    shard = os.path.join(root, "ingest", "sub", "part-1.txt")

    with open(shard, "r+b") as f:
        f.truncate(3)
    states = _states(config)
    assert states["ingest"] == ("stale", "file changed: ingest/sub/part-1.txt (8 bytes when written, now 3)")
    assert states["clean"][0] == "stale"
    assert "upstream file changed: ingest/sub/part-1.txt" in states["clean"][1]

    with open(shard, "w") as f:
        f.write("shard 9\n")  # same size, new mtime: the checksum tells
    assert _states(config)["clean"][1] == "upstream file changed: ingest/sub/part-1.txt"
    with open(shard, "w") as f:
        f.write("shard 1\n")  # the same bytes again: a touched file is not a change
    assert _states(config)["clean"][0] == "done"

    os.remove(shard)
    assert _states(config)["clean"][1] == "upstream file missing: ingest/sub/part-1.txt"
    with pytest.raises(
        runner.RunRefused, match=r"stage clean reads ingest, which is stale \(file missing: ingest/sub"
    ):
        _run(config, "clean")


def test_an_unexpected_file_in_an_output_makes_it_stale(toy):
    config, root = toy
    _run(config, "ingest")
    with open(os.path.join(root, "ingest", "part-9.txt"), "w") as f:
        f.write("left by hand")
    assert _states(config)["ingest"] == ("stale", "file unexpected: ingest/part-9.txt")


def test_rerun_upstream_makes_downstream_stale_and_refused(toy, tmp_path):
    """The issue's case: after an input changes, clean alone must not read the
    old ingest output and call itself fresh."""
    config, root = toy
    _run(config, "ingest")
    _run(config, "clean")
    (tmp_path / "in" / "b.jsonl").write_text('{"id": "KR2", "title": "새 문서"}\n', encoding="utf-8")
    states = _states(config)
    assert states["ingest"] == ("stale", "inputs changed")
    assert states["clean"] == ("stale", "inputs changed")
    with pytest.raises(runner.RunRefused, match="stage clean reads ingest, which is stale"):
        _run(config, "clean")
    # Rerunning ingest with other output makes clean stale through its recorded token.
    other = {**TOY, "ingest": Stage("ingest", (), {"v": "1"}, None, execute=_clean_free_ingest)}
    _run(config, "ingest", other)
    assert _states(config, other)["clean"][1].startswith("inputs changed")
    manifest = json.loads((tmp_path / "out" / "clean" / "manifest.json").read_text())
    assert manifest["upstream"]["ingest"] != runner.manifest_token(runner.read_manifest(config, "ingest"))


def test_preflight_refuses_a_stale_upstream_unless_the_command_reruns_it(toy, tmp_path):
    config, _ = toy
    _run(config, "ingest")
    _run(config, "clean")
    (tmp_path / "in" / "b.jsonl").write_text('{"id": "KR2", "title": "새 문서"}\n', encoding="utf-8")
    with pytest.raises(runner.RunRefused, match="stage clean reads ingest, which is stale"):
        runner.preflight(config, ["clean"], TOY)
    runner.preflight(config, ["ingest", "clean"], TOY)
    _run(config, "ingest", force=False)
    _run(config, "clean", force=False)
    assert {state for state, _ in _states(config).values()} == {"done"}


def _clean_free_ingest(ctx, extra_args):
    _write(ctx, "part-0.txt", "another shard\n")
    return {}


def test_damaged_manifest_reads_as_incomplete_with_a_warning(toy, caplog):
    config, root = toy
    _run(config, "ingest")
    path = os.path.join(root, "ingest", "manifest.json")
    with open(path, "r+b") as f:
        f.truncate(40)
    assert _states(config)["ingest"] == (
        "incomplete",
        "manifest.json is unreadable (JSONDecodeError): rerun the stage",
    )
    assert "manifest.json is unreadable" in caplog.text
    with pytest.raises(
        runner.RunRefused, match=r"stage clean needs ingest, which has not finished \(manifest"
    ):
        _run(config, "clean")
    assert _run(config, "ingest", force=False) is not None  # rerun, not skipped
    assert _states(config)["ingest"][0] == "done"


def test_checksum_is_of_the_stored_bytes(tmp_path):
    import gzip
    import zlib

    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress(b"x" * 1000))
    assert filesystems.file_checksum(str(path)) == f"{zlib.crc32(path.read_bytes()):08x}"


# ------------------------------------------------------------------ globs


def test_a_folder_named_like_a_glob_never_touches_its_look_alike(tmp_path):
    for name in ("run1", "run[1]"):
        (tmp_path / name / "clean").mkdir(parents=True)
        (tmp_path / name / "clean" / "part-0.txt").write_text(name)
    literal = str(tmp_path / "run[1]")
    assert filesystems.files_under(literal) == [os.path.join(literal, "clean", "part-0.txt")]
    assert list(filesystems.tree_listing(literal)) == ["clean/part-0.txt"]
    filesystems.delete_tree(os.path.join(literal, "clean"))
    assert (tmp_path / "run1" / "clean" / "part-0.txt").read_text() == "run1"
    assert not (tmp_path / "run[1]" / "clean").exists()
    assert filesystems.escape_glob("a[1]/*?") == "a[[]1]/[*][?]"


def test_output_root_with_glob_characters_is_refused(tmp_path, tiny_inputs):
    path = write_config(tmp_path, {**tiny_inputs, "output_root": str(tmp_path / "runs" / "run[1]")})
    with pytest.raises(ConfigError, match=r"output_root: .* holds the glob character\(s\) \["):
        load_config(path)


def test_input_inside_the_output_root_is_refused_in_one_line(tmp_path, tiny_inputs):
    (tmp_path / "out" / "ingest").mkdir(parents=True)
    (tmp_path / "out" / "ingest" / "a.jsonl").write_text((tmp_path / "in" / "a.jsonl").read_text())
    data = {
        **tiny_inputs,
        "inputs": [{"glob": str(tmp_path / "out" / "ingest" / "*.jsonl"), "format": "jsonl"}],
    }
    done = run_cli(write_config(tmp_path, data), "run", "--to", "ingest")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"config error: inputs[0].glob: {tmp_path}/out/ingest/*.jsonl lies inside output_root "
        f"{tmp_path}/out, whose folders the stages replace; keep inputs elsewhere"
    ]
    assert (tmp_path / "out" / "ingest" / "a.jsonl").exists()


# ------------------------------------------------------------------ output root


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("file", "is a file, not a folder"),
        ("file/sub", "lies under the file"),
        ("/proc/korpat", "is under /proc"),
    ],
)
def test_output_root_that_cannot_hold_outputs_is_one_line(tmp_path, tiny_inputs, root, message):
    (tmp_path / "file").write_text("not a folder")
    path = write_config(tmp_path, {**tiny_inputs, "output_root": root})
    done = run_cli(path, "stage", "ingest")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_root_is_refused(toy):
    config, root = toy
    os.makedirs(root)
    os.chmod(root, 0o500)
    try:
        with pytest.raises(runner.RunRefused, match="output_root: cannot write in"):
            runner.check_output_root(config)
    finally:
        os.chmod(root, 0o700)


def test_unwritable_output_root_is_one_line_exit_2(tmp_path, tiny_inputs, monkeypatch, capsys):
    """What a read-only mount gives (simulated: this test may run as root, which writes anyway)."""
    from pipeline.cli import main

    path = write_config(tmp_path, tiny_inputs)

    def read_only(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(os, "makedirs", read_only)
    assert main(["stage", "ingest", "--config", path]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: output_root: cannot write in {tmp_path}/out: Read-only file system"
    ]


# ------------------------------------------------------------------ lock


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    root = str(tmp_path / "out")
    with OutputLock(root, "stage clean"):
        holder = json.loads((tmp_path / "out" / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["command"] == "stage clean"
        with pytest.raises(OutputLocked, match=f"in use by another run: pid {os.getpid()} on "):
            OutputLock(root, "run").__enter__()
    assert not (tmp_path / "out" / LOCK_FILE).exists()


def test_lock_is_released_when_the_run_fails(tmp_path):
    root = str(tmp_path / "out")
    with pytest.raises(RuntimeError), OutputLock(root, "run"):
        raise RuntimeError("stage failed")
    with OutputLock(root, "run"):
        pass


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / "out").mkdir()
    stale = {"host": "here", "pid": int(dead.stdout), "started_at": "2026-01-01T00:00:00Z", "command": "run"}
    (tmp_path / "out" / LOCK_FILE).write_text(json.dumps(stale))
    with OutputLock(str(tmp_path / "out"), "stage clean"):
        assert json.loads((tmp_path / "out" / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert f"took over a stale lock left by pid {stale['pid']} on here" in capsys.readouterr().err


def test_locked_root_refuses_run_but_not_status(tmp_path, tiny_inputs):
    path = write_config(tmp_path, tiny_inputs)
    with OutputLock(str(tmp_path / "out"), "stage clean"):
        refused, status = _cli_together(path, ("stage", "ingest"), ("status",))
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: {tmp_path}/out is in use by another run: pid {os.getpid()} on ")
    assert line.endswith("(stage clean)")
    assert status.returncode == 0 and status.stdout.startswith("ingest")


def test_two_runs_at_once_exactly_one_proceeds(tmp_path, tiny_inputs):
    """CLI, two `stage ingest` on one root whose runs overlap.

    The overlap is made certain, not left to timing: the first run is stopped
    (SIGSTOP) as soon as its name is in the lock file, the second runs to its
    end while the first holds the lock, then the first continues.
    """
    path = write_config(tmp_path, tiny_inputs)
    one_process = ("--set", "runner.direct_running_mode=in_memory", "--set", "runner.direct_num_workers=1")
    command = [sys.executable, "-m", "pipeline", "stage", "ingest", *one_process, "--config", path]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    first = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock_path = tmp_path / "out" / LOCK_FILE
    deadline = time.monotonic() + 120
    while True:
        assert first.poll() is None, "the first run ended before it was seen holding the lock"
        assert time.monotonic() < deadline, "the first run never took the lock"
        try:
            if json.loads(lock_path.read_text()).get("pid") == first.pid:
                break
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first_out, first_err = first.communicate(timeout=300)
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"is in use by another run: pid {first.pid} on " in second.stderr
    assert "(stage ingest)" in second.stderr
    assert first.returncode == 0, first_err[-2000:]
    assert not lock_path.exists()
    assert runner.read_manifest(load_config(path), "ingest")["counters"]["publications_written"] == 1


def _cli_together(config, *commands):
    """Start every command at once; their CompletedProcess-like results, in order."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args, "--config", config],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


# ------------------------------------------------------------------ checks before writing (CLI)


def _with_lists(tiny_inputs):
    """tiny_inputs with the repo's word lists (relative defaults would not resolve)."""
    lists = os.path.join(REPO, "dictionaries")
    return {
        **tiny_inputs,
        "nouns": {"stop_list": f"{lists}/stopwords.txt", "units_list": f"{lists}/units.txt"},
        "dictionary": {"term_lists": [f"{lists}/seed_terms.txt"]},
    }


def _fake_output(root, stage):
    folder = root / stage
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("the previous complete output")
    (folder / "manifest.json").write_text(json.dumps({"fingerprint": "old", "stage": stage}))
    return read_tree(folder)


@pytest.mark.parametrize(
    ("stage", "override", "message"),
    [
        (
            "nouns",
            "nouns.stop_list=/no/such/stopwords.txt",
            "stage nouns reads /no/such/stopwords.txt, which does not exist",
        ),
        (
            "dictionary",
            "dictionary.user_csvs=[/no/such/user.csv]",
            "stage dictionary reads /no/such/user.csv, which does not exist",
        ),
    ],
)
def test_missing_stage_file_refuses_before_anything_is_deleted(
    tmp_path, tiny_inputs, stage, override, message
):
    before = _fake_output(tmp_path / "out", stage)
    path = write_config(tmp_path, _with_lists(tiny_inputs))
    done, dry = _cli_together(
        path, ("stage", stage, "--set", override), ("run", "--dry-run", "--set", override)
    )
    assert done.returncode == 2 and dry.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {message}"]
    assert dry.stderr.strip().splitlines() == [f"error: {message}"]
    assert read_tree(tmp_path / "out" / stage) == before


def test_bad_beam_flag_refuses_before_anything_is_deleted(tmp_path, tiny_inputs):
    before = _fake_output(tmp_path / "out", "clean")
    done = run_cli(write_config(tmp_path, tiny_inputs), "stage", "clean", "--", "--direct_num_workers=abc")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: Beam flags: argument --direct_num_workers: invalid int value: 'abc'"
    ]
    assert read_tree(tmp_path / "out" / "clean") == before


def test_stage_refuses_an_upstream_that_has_not_finished(tmp_path, tiny_inputs):
    done = run_cli(write_config(tmp_path, tiny_inputs), "stage", "clean")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: stage clean needs ingest, which has not finished; run it first"
    ]


@pytest.mark.slow
def test_cli_refuses_a_damaged_clean_shard_and_status_names_it(tmp_path, tiny_inputs):
    """CLI on one publication, ingest and clean for real (about a minute)."""
    path = write_config(tmp_path, _with_lists(tiny_inputs))
    first = run_cli(path, "run", "--to", "clean")
    assert first.returncode == 0, first.stderr[-3000:]
    shard = sorted((tmp_path / "out" / "clean" / "sentences").iterdir())[1]
    shard.unlink()
    rel = f"clean/sentences/{shard.name}"
    status = run_cli(path, "status").stdout.splitlines()
    assert status[1].split(None, 2) == ["clean", "stale", f"file missing: {rel}"]
    assert status[2].split(None, 2) == ["nouns", "missing"]
    refused = run_cli(path, "stage", "nouns")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: stage nouns reads clean, which is stale (file missing: {rel}); rerun clean first"
    ]
    rerun = run_cli(path, "run", "--to", "clean")
    assert rerun.returncode == 0 and "[ingest] up to date" in rerun.stderr
    assert shard.exists()


def test_status_is_fast_on_a_toy_output(toy):
    config, _ = toy
    _run(config, "ingest")
    _run(config, "clean")
    started = time.perf_counter()
    _states(config)
    assert time.perf_counter() - started < 2


# ------------------------------------------------------------------ object stores (gs://-like, no folders)


def _object_write(ctx, rel, text):
    filesystems.write_bytes(filesystems.join(ctx.output_dir, rel), text.encode())


def _objects_ingest(ctx, extra_args):
    for i in range(ctx.config.ingest.num_shards):
        _object_write(ctx, f"part-{i}.txt", f"shard {i}\n")
    return {}


def test_object_store_rerun_replaces_the_files_and_keeps_them_checked(tmp_path, tiny_inputs, monkeypatch):
    from tests.objectstore import SCHEME, ObjectStoreFileSystem

    monkeypatch.setattr(ObjectStoreFileSystem, "root", str(tmp_path / "objstore"))
    stages = {"ingest": Stage("ingest", (), {"v": "1"}, None, execute=_objects_ingest)}
    path = write_config(tmp_path, {**tiny_inputs, "output_root": f"{SCHEME}://bucket/out"})
    root = f"{SCHEME}://bucket/out"
    with OutputLock(root, "run"):
        _run(load_config(path, ("ingest.num_shards=3",)), "ingest", stages)
        with pytest.raises(OutputLocked, match="in use by another run"):
            OutputLock(root, "run").__enter__()
    config = load_config(path, ("ingest.num_shards=2",))
    manifest = _run(config, "ingest", stages)
    objects = sorted(os.listdir(tmp_path / "objstore" / "bucket" / "out" / "ingest"))
    assert objects == ["manifest.json", "part-0.txt", "part-1.txt"]
    assert filesystems.files_under(f"{root}/.staging") == []
    assert not filesystems.exists(f"{root}/{LOCK_FILE}")
    assert set(manifest["files"]) == {"part-0.txt", "part-1.txt"}
    assert _states(config, stages)["ingest"][0] == "done"
    with open(tmp_path / "objstore" / "bucket" / "out" / "ingest" / "part-1.txt", "w") as f:
        f.write("shard 9\n")
    assert _states(config, stages)["ingest"] == ("stale", "file changed: ingest/part-1.txt")
