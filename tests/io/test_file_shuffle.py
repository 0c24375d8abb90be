"""Shuffles through scratch files (pipeline/io/file_shuffle.py): blocks round-trip through local
and folder-less object storage, gs:// reads are exact ranged downloads, bad reads fail."""

import pytest

from pipeline.io import file_shuffle
from tests.objectstore import SCHEME, ObjectStoreFileSystem


@pytest.fixture(params=["local", "objstore"])
def folder(request, tmp_path, monkeypatch):
    if request.param == "local":
        return str(tmp_path / "scratch")
    monkeypatch.setattr(ObjectStoreFileSystem, "root", str(tmp_path / "objstore"))
    return f"{SCHEME}://bucket/scratch"


def test_blocks_round_trip_and_empty_blocks_get_no_reference(folder):
    rows = {
        ("train", 0): [("doc-1\x00", 0, 0, b"\x02\x04")],
        ("eval", 3): [("doc-2\x00", 1, 2, b"\xff" * 300)] * 50,
    }
    blocks = {key: file_shuffle.dump(r) for key, r in rows.items()}
    refs = file_shuffle.write_blocks(f"{folder}/a.bin", {**blocks, ("train", 1): b""})
    assert set(refs) == set(rows)
    assert sum(ref.size for ref in refs.values()) == sum(map(len, blocks.values()))
    for key, ref in refs.items():
        assert list(file_shuffle.load_blocks([ref])) == [rows[key]]
    # Several blocks at once (read on threads) come back in the order asked.
    order = [refs[("eval", 3)], refs[("train", 0)], refs[("eval", 3)]]
    assert list(file_shuffle.load_blocks(order)) == [rows[("eval", 3)], rows[("train", 0)], rows[("eval", 3)]]


def test_unique_names_differ_per_attempt():
    names = {file_shuffle.unique_name("tokens-part-00001-00000") for _ in range(100)}
    assert len(names) == 100 and all(n.startswith("tokens-part-00001-00000-") for n in names)


def test_a_short_read_is_an_error_not_a_short_block(tmp_path):
    path = tmp_path / "z.bin"
    refs = file_shuffle.write_blocks(str(path), {0: b"abc", 1: b"defgh"})
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(OSError, match="give 2 bytes, expected 5"):
        file_shuffle.read_block(refs[1])


def test_gcs_reads_download_exactly_the_range(monkeypatch):
    """Beam's GCS reader would fetch 16 MiB per read; ours asks for the block's bytes only
    (google-cloud-storage's `end` is inclusive)."""
    data = bytes(range(256)) * 4
    asked = []

    class Blob:
        def __init__(self, name):
            self.name = name

        def download_as_bytes(self, start, end):
            asked.append((self.name, start, end))
            return data[start : end + 1]

    class Client:
        def bucket(self, bucket):
            assert bucket == "my-bucket"
            return type("Bucket", (), {"blob": lambda _, name: Blob(name)})()

    monkeypatch.setattr(file_shuffle, "_gcs_client", Client)
    ref = file_shuffle.BlockRef("gs://my-bucket/scratch/tokens-1.bin", 10, 700)
    assert file_shuffle.read_block(ref) == data[10:700]
    assert asked == [("scratch/tokens-1.bin", 10, 699)]
    assert file_shuffle.read_block(file_shuffle.BlockRef(ref.path, 5, 5)) == b"" and len(asked) == 1


@pytest.mark.parametrize("chunk_size", [1, 17, 1 << 20])
def test_framed_records_stream_back_whatever_the_chunk_size(folder, chunk_size):
    records = [(2**64 - 1, 0, b""), (5, 3, b"x" * 1000), (7, 2**32 - 1, bytes(range(256)))]
    other = [(1, 1, b"other piece")]
    refs = file_shuffle.write_blocks(
        f"{folder}/f.bin", {0: file_shuffle.frame_records(other), 2: file_shuffle.frame_records(records)}
    )
    assert list(file_shuffle.iter_frames(refs[2], chunk_size)) == records
    assert list(file_shuffle.iter_frames(refs[0], chunk_size)) == other


def test_a_block_cut_inside_a_record_fails(tmp_path):
    data = file_shuffle.frame_records([(1, 0, b"abcdef")])
    refs = file_shuffle.write_blocks(str(tmp_path / "cut.bin"), {0: data[:-2]})
    with pytest.raises(OSError, match="ends inside a record"):
        list(file_shuffle.iter_frames(refs[0], 4))


@pytest.mark.parametrize("mode", file_shuffle.EXCHANGE_MODES)
def test_sorted_spill_holds_at_most_its_limit_and_the_merge_is_sorted(folder, mode):
    import random

    rng = random.Random(7)
    records = [(rng.randrange(3), rng.randrange(1000), k, bytes([k % 256]) * (k % 5)) for k in range(100)]
    spill = file_shuffle.SortedSpill(file_shuffle.Exchange(mode, folder), "pairs-00001", limit=30)
    sent, held_after = [], []
    for destination, key, index, data in records:
        sent += spill.add(destination, key, index, data)
        held_after.append(spill.held)
    sent += spill.flush()
    assert spill.flush() == [] and max(held_after) < 30
    # 100 records at 30 a segment: 4 sends, each a block per destination it held.
    if mode == file_shuffle.FILES:
        assert len({ref.path for _, ref in sent}) == 4
    for destination in range(3):
        blocks = [block for d, block in sent if d == destination]
        merged = list(file_shuffle.merged_frames(blocks, buffer_bytes=1 << 16))
        assert merged == sorted((key, index, data) for d, key, index, data in records if d == destination)
