"""Shard helpers: every shard index appears once; stable shard numbers."""

import apache_beam as beam
import pyarrow as pa
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.io import filesystems


def _summarise(element):
    index, grouped = element
    return index, sorted(grouped["files"]), sorted(grouped["markers"])


def test_join_by_shard_yields_every_index_once():
    with TestPipeline() as p:
        files = p | "Files" >> beam.Create([(0, "a"), (2, "c"), (2, "b")])
        markers = p | "Markers" >> beam.Create([(2, "m")])
        joined = {"files": files, "markers": markers} | filesystems.JoinByShard(4) | beam.Map(_summarise)
        assert_that(
            joined,
            equal_to([(0, ["a"], []), (1, [], []), (2, ["b", "c"], ["m"]), (3, [], [])]),
        )


def test_stable_shard_is_fixed():
    # Pinned values: a change here would move every file to another shard.
    assert [filesystems.stable_shard(k, 8) for k in ("KR1", "KR2", "한글")] == [7, 5, 5]


def test_parquet_shard_writer_streams_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setattr(filesystems.ParquetShardWriter, "ROWS_PER_GROUP", 3)
    schema = pa.schema([("n", pa.int32())])
    path = str(tmp_path / "x.parquet")
    writer = filesystems.ParquetShardWriter(path, schema)
    for n in range(7):
        writer.add([{"n": n}])
    writer.close()
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    assert list(filesystems.iter_parquet_rows(path)) == [{"n": n} for n in range(7)]
