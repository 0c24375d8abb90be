"""Shuffles through scratch files (pipeline/exchange.py): blocks round-trip through local
and folder-less object storage, empty blocks cost no read, bad partitions fail."""

import pytest
from objectstore import SCHEME, ObjectStoreFileSystem

from pipeline import exchange


@pytest.fixture(params=["local", "objstore"])
def folder(request, tmp_path, monkeypatch):
    if request.param == "local":
        return str(tmp_path / "scratch")
    monkeypatch.setattr(ObjectStoreFileSystem, "root", str(tmp_path / "objstore"))
    return f"{SCHEME}://bucket/scratch"


def test_blocks_round_trip_and_empty_partitions_read_nothing(folder):
    rows = {0: [("doc-1\x00", 0, 0, b"\x02\x04")], 3: [("doc-2\x00", 1, 2, b"\xff" * 300)] * 50}
    block_file = exchange.write_blocks(f"{folder}/a.bin", {p: exchange.dump(r) for p, r in rows.items()}, 5)
    assert block_file.partitions == 5
    for partition in range(5):
        assert list(exchange.load_blocks([block_file], partition)) == (
            [rows[partition]] if partition in rows else []
        )
    # An empty block is answered from the offsets: the file is not opened.
    missing = exchange.BlockFile(f"{folder}/gone.bin", block_file.offsets)
    assert exchange.read_block(missing, 1) == b""
    with pytest.raises((OSError, FileNotFoundError)):
        exchange.read_block(missing, 3)


def test_load_blocks_reads_each_file_and_skips_absent_ones(folder):
    a = exchange.write_blocks(f"{folder}/a.bin", {1: exchange.dump(["a1"])}, 2)
    b = exchange.write_blocks(f"{folder}/b.bin", {0: exchange.dump(["b0"]), 1: exchange.dump(["b1"])}, 2)
    assert list(exchange.load_blocks([a, None, b], 1)) == [["a1"], ["b1"]]
    assert list(exchange.load_blocks([a, b], 0)) == [["b0"]]


def test_bad_partitions_fail_loudly(tmp_path):
    with pytest.raises(ValueError, match="outside 0..1"):
        exchange.write_blocks(str(tmp_path / "x.bin"), {2: b"x"}, 2)
    block_file = exchange.write_blocks(str(tmp_path / "y.bin"), {0: b"x"}, 2)
    with pytest.raises(IndexError):
        block_file.block_range(2)


def test_a_truncated_file_is_an_error_not_a_short_block(tmp_path):
    path = tmp_path / "z.bin"
    block_file = exchange.write_blocks(str(path), {0: b"abc", 1: b"defgh"}, 2)
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(OSError, match="block 1: .* give 2 bytes, expected 5"):
        exchange.read_block(block_file, 1)


@pytest.mark.parametrize("chunk_size", [1, 17, 1 << 20])
def test_framed_records_stream_back_whatever_the_chunk_size(folder, chunk_size):
    records = [(2**64 - 1, 0, b""), (5, 3, b"x" * 1000), (7, 2**32 - 1, bytes(range(256)))]
    other = [(1, 1, b"other piece")]
    blocks = {0: exchange.frame_records(other), 2: exchange.frame_records(records)}
    block_file = exchange.write_blocks(f"{folder}/f.bin", blocks, 3)
    assert list(exchange.iter_frames(block_file, 2, chunk_size)) == records
    assert list(exchange.iter_frames(block_file, 0, chunk_size)) == other
    assert list(exchange.iter_frames(block_file, 1, chunk_size)) == []


def test_a_block_cut_inside_a_record_fails(tmp_path):
    data = exchange.frame_records([(1, 0, b"abcdef")])
    block_file = exchange.write_blocks(str(tmp_path / "cut.bin"), {0: data[:-2]}, 1)
    with pytest.raises(OSError, match="ends inside a record"):
        list(exchange.iter_frames(block_file, 0, 4))
