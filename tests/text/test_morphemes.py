"""Morphemes without Beam: word-start marks, spacing, the batch tagger, the text layout."""

import pytest

from pipeline.text.morphemes import MecabBatchTagger, format_rows, restore_spacing, word_starts


@pytest.mark.parametrize(
    "sentence, morphemes, marks",
    [
        ("합성세제를 제조한다.", ["합성", "세제", "를", "제조", "한다", "."], "100100"),
        ("SiO2 층(10)이다.", ["SiO", "2", "층", "(", "10", ")", "이", "다", "."], "101000000"),
        ("  앞 공백", ["앞", "공백"], "11"),
    ],
)
def test_word_starts_and_restore(sentence, morphemes, marks):
    assert word_starts(sentence, morphemes) == marks
    assert restore_spacing(" ".join(morphemes), marks) == sentence.strip()


def test_word_starts_refuses_morphemes_that_do_not_tile_the_sentence():
    assert word_starts("합성세제", ["합성", "세재"]) is None
    assert word_starts("합성세제 액", ["합성", "세제"]) is None


def test_batch_tagger_matches_python_mecab_and_keeps_line_alignment():
    import mecab

    sentences = [
        "본 발명은 합성세제액에 관한 것이다.",
        "상기 양극활물질은 LiNi0.8Co0.1Mn0.1O2를 포함한다.",
        "도 1은 열교환기(100)의 단면도이다.",
        "ⓐ ① ㎛ 漢字 혼용 문장이다.",
    ]
    tagger = MecabBatchTagger()
    reference = mecab.MeCab()
    assert tagger.split(sentences) == [reference.morphs(s) for s in sentences]
    assert tagger.split([]) == []


def test_batch_tagger_uses_the_user_dictionary(tmp_path):
    import subprocess
    import sys

    csv = tmp_path / "user.csv"
    csv.write_text("합성세제액,,,,NNP,*,T,합성세제액,*,*,*,*\n", encoding="utf-8")
    dic = tmp_path / "user.dic"
    subprocess.run(
        [sys.executable, "-m", "mecab", "dict-index", f"--userdic={dic}", str(csv)],
        check=True,
        capture_output=True,
    )
    sentence = ["합성세제액을 사용한다."]
    assert MecabBatchTagger().split(sentence)[0][:3] == ["합성", "세", "제액"]
    assert MecabBatchTagger(str(dic)).split(sentence)[0][0] == "합성세제액"


def _row(doc, paragraph, text):
    return {"doc_id": doc, "paragraph_index": paragraph, "morphemes": text}


def test_format_rows_keeps_clean_layout_across_batches():
    rows = [_row("A", 0, "가 나"), _row("A", 0, "다"), _row("A", 1, "라"), _row("B", 0, "마")]
    first, previous = format_rows(rows[:2], None, "paragraphs")
    second, previous = format_rows(rows[2:], previous, "paragraphs")
    assert first + second + "\n" == "가 나\n다\n\n라\n\n마\n\n"
    whole, _ = format_rows(rows, None, "documents")
    assert whole + "\n" == "가 나\n다\n라\n\n마\n\n"
