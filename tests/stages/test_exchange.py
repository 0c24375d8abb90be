"""runner.exchange: clean and tfrecords write the same bytes whether their blocks go through
scratch files (`files`) or Beam's GroupByKey (`beam`); `auto` resolves by runner and, being
a machine setting, never makes an output stale."""

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.config import CleanConfig, ConfigError, load_config
from pipeline.config.sections import RunnerConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.layout import output_specs
from pipeline.run import runner
from pipeline.stages import clean
from pipeline.stages import tfrecords as R
from tests.helpers import read_tree, write_config
from tests.stages.test_clean import AMENDED, DIVISIONAL, OTHER, SPEC, _rows, _write_ingest_shard
from tests.stages.test_tfrecords import CONFIG, write_morph_shards, write_vocabs


@pytest.mark.parametrize(
    "runner_name, exchange, resolved",
    [
        ("DirectRunner", "auto", "files"),
        ("DataflowRunner", "auto", "beam"),
        ("DirectRunner", "beam", "beam"),
        ("DataflowRunner", "files", "files"),
    ],
)
def test_auto_resolves_by_runner(runner_name, exchange, resolved):
    assert RunnerConfig(runner=runner_name, exchange=exchange).resolved_exchange == resolved


def test_exchange_is_validated_and_never_fingerprinted(tmp_path, tiny_inputs):
    path = write_config(tmp_path, tiny_inputs)
    files = load_config(path)
    beam = load_config(path, ("runner.exchange=beam",))
    assert (files.runner.resolved_exchange, beam.runner.resolved_exchange) == ("files", "beam")
    stages = runner.stage_table()
    assert runner.expected_fingerprints(files, stages) == runner.expected_fingerprints(beam, stages)
    with pytest.raises(ConfigError, match="runner.exchange"):
        load_config(path, ("runner.exchange=shuffle",))


def test_an_exchange_in_beam_mode_passes_the_bytes_and_consumers_read_either(tmp_path):
    blocks = {(1, 0): file_shuffle.dump([("k", 1)]), (0, 2): file_shuffle.dump([("j", 2)]), (2, 0): b""}
    sent = file_shuffle.Exchange("beam", str(tmp_path)).send("keys", blocks)
    assert list(sent) == [(0, 2), (1, 0)] and sent[(1, 0)] == blocks[(1, 0)]
    refs = file_shuffle.Exchange("files", str(tmp_path)).send("keys", blocks)
    assert all(isinstance(ref, file_shuffle.BlockRef) for ref in refs.values())
    assert list(file_shuffle.load_blocks(sent.values())) == list(file_shuffle.load_blocks(refs.values()))
    framed = file_shuffle.frame_records([(5, 0, b"abc"), (9, 1, b""), (12, 2, b"de")])
    (ref,) = file_shuffle.Exchange("files", str(tmp_path)).send("frames", {0: framed}).values()
    assert list(file_shuffle.iter_frames(framed, 4)) == list(file_shuffle.iter_frames(ref, 4))
    assert list(file_shuffle.iter_frames(framed, 4)) == [(5, 0, b"abc"), (9, 1, b""), (12, 2, b"de")]
    with pytest.raises(OSError, match="ends inside a record"):
        list(file_shuffle.iter_frames(framed[:-1], 4))
    with pytest.raises(ValueError, match="exchange mode 'gbk'"):
        file_shuffle.Exchange("gbk", str(tmp_path))


def _clean_output(tmp_path, exchange: str) -> tuple[dict, list[str]]:
    out = tmp_path / f"clean-{exchange}"
    with TestPipeline() as p:
        _ = p | clean.CleanDocuments(
            str(tmp_path / "ingest*" / "*.parquet"), 2, CleanConfig(), str(out), exchange
        )
    tree = read_tree(out)
    scratch = sorted(k for k in tree if k.startswith(filesystems.TMP_DIR) and k.endswith(".bin"))
    return {k: v for k, v in tree.items() if not k.startswith(filesystems.TMP_DIR)}, scratch


def test_clean_writes_the_same_bytes_with_either_exchange(tmp_path, monkeypatch):
    # Near duplicates (KR2, KR3 of KR1), an exact duplicate (KR5 of KR4) and a duplicate id
    # (KR1 again in another file), over two shards: every exchange of the stage carries data.
    _write_ingest_shard(
        tmp_path / "ingest0",
        _rows("KR1", "A", SPEC) + _rows("KR3", "A", DIVISIONAL) + _rows("KR4", "H", OTHER),
    )
    _write_ingest_shard(
        tmp_path / "ingest1",
        _rows("KR2", "A", AMENDED)
        + _rows("KR5", "H", OTHER)
        + _rows("KR1", "A", OTHER, source="again.jsonl:1"),
    )
    for i in range(2):  # as ingest names two shards
        (tmp_path / f"ingest{i}" / "part-00000-of-00001.parquet").rename(
            tmp_path / f"ingest{i}" / f"part-0000{i}-of-00002.parquet"
        )
    monkeypatch.setattr(clean, "SPILL_KEYS", 3)  # many blocks per partition
    files, files_scratch = _clean_output(tmp_path, "files")
    beam, beam_scratch = _clean_output(tmp_path, "beam")
    assert files == beam
    assert len(files_scratch) > 4 and beam_scratch == []  # the blocks went through Beam instead
    rejects = b"".join(v for k, v in sorted(files.items()) if k.startswith("rejects/"))
    for reason in (b"near_duplicate_document", b"duplicate_document", b"duplicate_doc_id"):
        assert reason in rejects


def _records(tmp_path, out, exchange, mode, workers):
    options = PipelineOptions(
        ["--runner=DirectRunner", f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
    )
    vocabs = write_vocabs(tmp_path)
    with TestPipeline(options=options) as p:
        for spec in output_specs(CONFIG):
            _ = p | f"Records_{spec.name}" >> R.BuildPretrainingRecords(
                str(tmp_path / "morph" / "part-*.parquet"),
                vocabs[spec.flavour],
                spec,
                CONFIG,
                str(out),
                exchange,
            )
    return read_tree(out)


def test_tfrecords_writes_the_same_bytes_with_either_exchange(tmp_path, monkeypatch):
    write_morph_shards(tmp_path / "morph")
    monkeypatch.setattr(R, "SPILL_SENTENCES", 7)  # many sentence blocks per bucket
    files = _records(tmp_path, tmp_path / "files", "files", "in_memory", 1)
    # Two worker processes: the blocks cross process boundaries through Beam's coders.
    beam = _records(tmp_path, tmp_path / "beam", "beam", "multi_processing", 2)
    data = {k: v for k, v in files.items() if not k.startswith(R.SCRATCH) or "/nsp/" in k}
    assert len([k for k in data if k.endswith(".tfrecord.gz")]) == 32  # 2 outputs x 2 splits x 8 shards
    assert any("/nsp/" in k for k in data)  # the NSP counts finalize reads
    assert beam == data  # records and NSP counts byte-identical; no token or example scratch files
    assert any("/tokens-" in k for k in files) and any("/examples-" in k for k in files)
