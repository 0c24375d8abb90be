"""Word pieces with character offsets: the pieces are the tokenizer's own, and each one's span
is the stretch of the original text it stands for, also where morphemes do not tile the text."""

from pathlib import Path

import pytest

from pipeline.text.token_offsets import OffsetTokenizer, align_morphemes
from pipeline.text.tokenizer import BERT_HEAD, Tokenizer
from tests.helpers import REPO

# A literal vocabulary in this pipeline's layout: enough pieces for the sentences below,
# with 形 and ☃ left out so that they become [UNK].
WORDS = (
    *BERT_HEAD,
    "(",
    ")",
    ".",
    "기재",
    "층",
    "##층",
    "110",
    "에",
    "10",
    "㎛",
    "를",
    "成",
    "했",
    "다",
    "하",
    "았",
    "x",
    "미세",
    "##바늘",
    "은",
)


@pytest.fixture
def tokenizer(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return Tokenizer(str(vocab), mode="fast")


def spans(offset_tokenizer, text):
    return [(p.piece, text[p.start : p.end]) for p in offset_tokenizer.pieces(text)]


def test_particles_numbers_units_hanja_and_unk_keep_their_characters(tokenizer):
    text = "기재층(110)에 10㎛를 形成했다 ☃x."
    offsets = OffsetTokenizer(tokenizer)
    assert [p.piece for p in offsets.pieces(text)] == tokenizer.pieces(text)
    assert spans(offsets, text) == [
        ("기재", "기재"),
        ("층", "층"),  # the noun 기재층 is two morphemes, the particle 에 its own
        ("(", "("),
        ("110", "110"),
        (")", ")"),
        ("에", "에"),
        ("10", "10"),  # a number fused to its unit: two pieces, each its own characters
        ("㎛", "㎛"),
        ("를", "를"),
        ("[UNK]", "形"),  # Hanja stands alone (CJK rule); unknown -> one [UNK] per character
        ("成", "成"),
        ("했", "했"),
        ("다", "다"),
        ("[UNK]", "☃"),
        ("x", "x"),
        (".", "."),
    ]


def test_ids_are_the_tokenizers(tokenizer):
    text = "미세바늘은 10㎛ 했다."
    offsets = OffsetTokenizer(tokenizer)
    ids, _ = tokenizer.encode(text)
    assert [p.id for p in offsets.pieces(text)] == ids[1:-1]


def test_restored_forms_share_the_characters_they_came_from():
    # Mecab-ko's analysis of 했 is 하/VV + 았/EP: two morphemes for one character.
    assert align_morphemes("그는 했다", ["그", "는", "하", "았", "다"]) == [
        (0, 1, True),
        (1, 2, True),
        (3, 4, False),
        (3, 4, False),
        (4, 5, True),
    ]
    # A restored run at the end of the text takes the rest of it.
    assert align_morphemes("됐 ", ["되", "었"]) == [(0, 1, False), (0, 1, False)]


def test_pretokenized_restored_forms_map_back_to_the_original_text(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    # A pretokenized tokenizer splits on spaces: give it the restored morphemes, and the
    # offsets come from matching them against the sentence they were analysed from.
    tokenizer = Tokenizer(str(vocab), pretokenized=True)
    offsets = OffsetTokenizer(tokenizer)
    text = "기재층 했다"
    got = []
    morphemes = ["기재", "층", "하", "았", "다"]
    for (start, end, exact), morpheme in zip(align_morphemes(text, morphemes), morphemes, strict=True):
        got.append((morpheme, text[start:end], exact))
    assert got == [
        ("기재", "기재", True),
        ("층", "층", True),
        ("하", "했", False),
        ("았", "했", False),
        ("다", "다", True),
    ]
    assert [p.piece for p in offsets.pieces("기재 층")] == ["기재", "층"]


def test_space_like_characters_inside_a_morpheme(tokenizer):
    # Mecab-ko keeps an ideographic space glued to the next morpheme ('\u3000(').
    text = "기재\u3000(110)"
    offsets = OffsetTokenizer(tokenizer)
    assert spans(offsets, text) == [("기재", "기재"), ("(", "("), ("110", "110"), (")", ")")]


def test_every_demo_sentence_gives_the_tokenizers_pieces_and_covering_spans(tmp_path):
    """On every tenth of the demo labelled sentences with a vocabulary learned from them: the same
    pieces as `Tokenizer.pieces`, and the spans, joined, spell the text without its spaces
    wherever the piece is not [UNK]."""
    lines = (Path(REPO) / "data" / "demo" / "cpc_sentences.tsv").read_text(encoding="utf-8").splitlines()
    sentences = [line.split("\t", 1)[1] for line in lines[::10]]
    chars = sorted({ch for s in sentences for ch in s if not ch.isspace()})
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join([*BERT_HEAD, *chars, *(f"##{c}" for c in chars)]) + "\n", encoding="utf-8")
    tokenizer = Tokenizer(str(vocab), mode="fast")
    offsets = OffsetTokenizer(tokenizer)
    for sentence in sentences:
        pieces = offsets.pieces(sentence)
        assert [p.piece for p in pieces] == tokenizer.pieces(sentence), sentence
        for p in pieces:
            assert sentence[p.start : p.end] == p.piece.removeprefix("##"), (sentence, p)
