"""Stage morph: the MorphSentences transform and the demo run."""

import pytest

from pipeline.text.morphemes import restore_spacing


def test_morph_sentences_transform(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from apache_beam.testing.test_pipeline import TestPipeline

    from pipeline.config import MorphConfig
    from pipeline.layout import sentence_schema
    from pipeline.stages.morph import MorphSentences

    rows = [
        {
            "doc_id": "KR1",
            "cpc_section": "C",
            "paragraph_index": 0,
            "section": "abstract",
            "sentence_index": 0,
            "text": "본 발명은 세제에 관한 것이다.",
        },
        {
            "doc_id": "KR1",
            "cpc_section": "C",
            "paragraph_index": 0,
            "section": "abstract",
            "sentence_index": 1,
            "text": "세제는 물을 포함한다.",
        },
        {
            "doc_id": "KR1",
            "cpc_section": "C",
            "paragraph_index": 2,
            "section": "claims",
            "sentence_index": 0,
            "text": "물; 및 계면활성제를 포함하는 세제.",
        },
    ]
    src = tmp_path / "clean" / "sentences"
    src.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(rows, schema=sentence_schema()), str(src / "part-00000-of-00001.parquet")
    )
    out = tmp_path / "morph"
    with TestPipeline() as p:
        _ = p | MorphSentences(
            str(src / "*.parquet"), MorphConfig(batch_sentences=2), None, str(out), "paragraphs"
        )
    assert (out / "text" / "part-00000-of-00001.txt").read_text(encoding="utf-8") == (
        "본 발명 은 세제 에 관한 것 이 다 .\n세제 는 물 을 포함 한다 .\n\n"
        "물 ; 및 계면 활성제 를 포함 하 는 세제 .\n\n"
    )
    table = pq.read_table(str(out / "sentences" / "part-00000-of-00001.parquet")).to_pylist()
    assert [restore_spacing(r["morphemes"], r["word_starts"]) for r in table] == [r["text"] for r in rows]


@pytest.mark.slow
def test_demo_morph_keeps_layout_spacing_and_user_nouns(demo_copy, tmp_path):
    import os
    import subprocess
    import sys

    import pyarrow.parquet as pq

    from tests.helpers import REPO

    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--to", "morph", "--config", demo_copy],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    root = tmp_path / "out"
    clean_text = sorted((root / "clean" / "text").glob("*.txt"))
    morph_text = sorted((root / "morph" / "text").glob("*.txt"))
    assert [p.name for p in clean_text] == [p.name for p in morph_text]
    for c, m in zip(clean_text, morph_text, strict=True):
        clean_lines = c.read_text(encoding="utf-8").split("\n")
        morph_lines = m.read_text(encoding="utf-8").split("\n")
        # Same lines, same blank lines: only the spacing inside a sentence changes.
        assert [bool(x) for x in clean_lines] == [bool(x) for x in morph_lines]
        for cl, ml in zip(clean_lines, morph_lines, strict=True):
            assert cl.replace(" ", "") == ml.replace(" ", "")

    def rows(stage):
        out = []
        for path in sorted((root / stage / "sentences").glob("*.parquet")):
            out.extend(pq.read_table(str(path)).to_pylist())
        return out

    clean_rows, morph_rows_ = rows("clean"), rows("morph")
    assert len(clean_rows) == len(morph_rows_)
    assert [restore_spacing(r["morphemes"], r["word_starts"]) for r in morph_rows_] == [
        r["text"] for r in clean_rows
    ]
    # A word from the user dictionary that the stock dictionary splits stays whole.
    user_csv = (root / "dictionary" / "user.csv").read_text(encoding="utf-8")
    assert "이산화탄소," in user_csv
    tokens = {t for r in morph_rows_ for t in r["morphemes"].split(" ")}
    assert "이산화탄소" in tokens
    assert os.path.exists(root / "morph" / "manifest.json")
