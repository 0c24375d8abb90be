"""Morphemes and eojeol marks -> encoded tokens, plain and through the piece cache."""

from array import array

from pipeline.pretraining.sentence_encoding import PieceCache, encode_sentence


def test_encode_sentence_maps_eojeol_starts_through_pieces():
    pieces = {"본": (10,), "발명": (11,), "은": (12,), "세제액": (13, 14), ".": (15,)}.get
    # "본 발명은 세제액." -> morphemes 본 | 발명 은 | 세제액 .
    tokens = encode_sentence("본 발명 은 세제액 .", "11010", pieces, whole_word=True)
    assert [t >> 1 for t in tokens] == [10, 11, 12, 13, 14, 15]
    assert [t & 1 for t in tokens] == [1, 1, 0, 1, 0, 0]
    plain = encode_sentence("본 발명 은 세제액 .", "11010", pieces, whole_word=False)
    assert [t & 1 for t in plain] == [1] * 6


def test_piece_cache_encodes_like_encode_sentence():
    class Pieces(PieceCache):
        def __init__(self):
            # the caches only; no tokenizer needed
            self._cache, self._whole, self._plain, self._max_size = {}, {}, {}, 4
            self._whole_bytes, self._plain_bytes = {}, {}
            self._table = {"본": (10,), "발명": (11,), "은": (12,), "세제액": (13, 14), ".": (15,), "": ()}

        def __call__(self, morpheme):
            return self._table[morpheme]

    pieces = Pieces()
    cases = [
        ("본 발명 은 세제액 .", "11010"),
        ("세제액 . 본", "101"),
        ("발명 은", "1"),
        ("", ""),
        ("본  발명", "101"),
    ]
    for _ in range(2):  # cold, then from the caches (max_size 4 forces clears)
        for morphemes, marks in cases:
            for whole_word in (True, False):
                expected = encode_sentence(morphemes, marks, pieces, whole_word)
                assert pieces.encode_sentence(morphemes, marks, whole_word) == expected
                assert pieces.encode_bytes(morphemes, marks, whole_word) == array("I", expected).tobytes()
