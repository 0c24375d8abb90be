"""The KorPatBERT tokenizer: reference behaviour on literal vocabularies, both modes,
both vocab layouts, the TF version, and (slow) the whole demo corpus."""

import os
import pickle
import subprocess
import sys

import pytest

from pipeline.text import tokenizer as T
from pipeline.text.tokenizer import Tokenizer, basic_split, pieces_to_text
from tests.helpers import REPO

# Ids 5.. are the same words in both layouts' files; KorPatBERT's has 3 more entries first.
WORDS = [
    "세제",  # 5 (bert) / 8 (korpat)
    "##액",
    "세",
    "##제액",
    "반",
    "##도체",
    "반도",
    "##체",
    "본",
    "발명",
    "은",
    ".",
    ",",
    "(",
    ")",
    "漢",
    "에",
    "관한",
    "것",
    "이",
    "다",
    "액포",
    "##포",
]


def write_vocab(folder, layout, words=WORDS, name=None):
    path = folder / (name or f"{layout}_vocab.txt")
    path.write_text("\n".join([*T.LAYOUTS[layout], *words]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(params=["bert", "korpat"])
def layout(request):
    return request.param


@pytest.fixture(params=T.MODES)
def mode(request):
    return request.param


@pytest.fixture
def tok(tmp_path, layout, mode):
    return Tokenizer(write_vocab(tmp_path, layout), mode=mode, pretokenized=True)


# --- vocab layouts and special ids -------------------------------------------


def test_special_token_ids_are_fixed(tmp_path):
    korpat = Tokenizer(write_vocab(tmp_path, "korpat"), pretokenized=True)
    bert = Tokenizer(write_vocab(tmp_path, "bert"), pretokenized=True)
    assert korpat.layout == "korpat" and bert.layout == "bert"
    assert korpat.special_ids == {
        "<unk>": 0,
        "<s>": 1,
        "</s>": 2,
        "[PAD]": 3,
        "[UNK]": 4,
        "[CLS]": 5,
        "[SEP]": 6,
        "[MASK]": 7,
    }
    assert bert.special_ids == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    for t in (korpat, bert):
        assert all(t._token_dict[token] == i for token, i in t.special_ids.items())
    # The first ordinary word follows the reserved head.
    assert korpat._token_dict["세제"] == 8 and bert._token_dict["세제"] == 5


def test_pad_index_defaults_per_layout(tmp_path):
    korpat = Tokenizer(write_vocab(tmp_path, "korpat"), pretokenized=True)
    bert = Tokenizer(write_vocab(tmp_path, "bert"), pretokenized=True)
    # KorPatBERT pads with id 0, which is <unk> there: kept for compatibility.
    assert korpat.pad_index == 0 and korpat._token_dict_inv[0] == "<unk>"
    assert bert.pad_index == 0 and bert._token_dict_inv[0] == "[PAD]"
    assert Tokenizer(write_vocab(tmp_path, "korpat"), pad_index=3, pretokenized=True).pad_index == 3


def test_unknown_layout_and_missing_special_tokens_are_refused(tmp_path):
    path = tmp_path / "google.txt"
    path.write_text("[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n가\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown vocab layout"):
        Tokenizer(str(path))
    with pytest.raises(ValueError, match="token_unk"):
        Tokenizer(write_vocab(tmp_path, "bert"), token_unk="<oov>")
    with pytest.raises(ValueError, match="mode"):
        Tokenizer(write_vocab(tmp_path, "bert"), mode="turbo")


def test_vocab_is_read_like_the_reference(tmp_path):
    # Lines are stripped, \r\n and a BOM are fine; a repeated token keeps the
    # reference's ids (token_dict[token] = len(token_dict)) and warns.
    path = tmp_path / "v.txt"
    path.write_bytes("\ufeff[PAD]\r\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n 가 \n나\n가\n다\n".encode())
    with pytest.warns(UserWarning, match="repeats 1 token"):
        d = T.load_vocab(str(path))
    assert d == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "가": 7, "나": 6, "다": 7}


# --- the basic split -----------------------------------------------------------


def test_basic_split_punctuation_cjk_spaces_and_controls():
    text = (
        "본(漢)발명,\x00은\u200b\t.\ufffd 反\uf900x a$b^c`d~e·f ℃㎛ 가\u3000나\u2028다\u00a0라\x0b마\u00ad바"
    )
    assert basic_split(text) == [
        *["본", "(", "漢", ")", "발명", ",", "은", ".", "反", "\uf900", "x"],
        *["a", "$", "b", "^", "c", "`", "d", "~", "e", "·", "f", "℃㎛"],
        *["가", "나", "다", "라마바"],  # Zs and Zl separate; VT (Cc) and soft hyphen (Cf) are dropped
    ]


def test_basic_split_cased_false_folds_accents_and_case():
    assert basic_split("Émile ÀB", cased=True) == ["Émile", "ÀB"]
    assert basic_split("Émile ÀB", cased=False) == ["emile", "ab"]


# --- word pieces: forward/backward choice, [UNK] per piece -----------------------


def test_forward_split_kept_when_its_sorted_ids_are_smaller(tok):
    # forward 세제 ##액 (ids 5, 6 in bert) < backward 세 ##제액 (7, 8)
    assert tok.tokenize("세제액") == ["[CLS]", "세제", "##액", "[SEP]"]


def test_backward_split_kept_otherwise(tok):
    # forward 반도 ##체 (ids 11, 12 in bert) > backward 반 ##도체 (9, 10)
    assert tok.tokenize("반도체") == ["[CLS]", "반", "##도체", "[SEP]"]


FLIPPED = ["반도", "##체", "반", "##도체", *[w for w in WORDS if w not in ("반", "##도체", "반도", "##체")]]


def test_choice_follows_the_ids(tmp_path, layout, mode):
    t = Tokenizer(write_vocab(tmp_path, layout, FLIPPED), mode=mode, pretokenized=True)
    assert t.pieces("반도체") == ["반도", "##체"]  # now the forward split has the smaller ids


def test_choose_pieces_rules():
    d = {"[UNK]": 1, "가": 5, "##나": 9, "##다": 7}
    fwd, bwd = ["가", "[UNK]"], ["[UNK]", "가"]
    assert T.choose_pieces(fwd, bwd, d) is bwd  # equal after dropping [UNK]: backward
    fwd, bwd = ["가", "[UNK]"], ["가", "##나"]
    assert T.choose_pieces(fwd, bwd, d) is fwd  # [5] < [5, 9]: a prefix compares less
    fwd, bwd = ["가", "##나"], ["가", "##다"]
    assert T.choose_pieces(fwd, bwd, d) is bwd  # [5, 9] > [5, 7]


def test_unknown_character_is_one_unk_piece_not_the_whole_word(tok):
    assert tok.pieces("세Q액") == ["세", "[UNK]", "##액"]
    assert tok.pieces("QQ") == ["[UNK]", "[UNK]"]
    assert tok.pieces("세제Q") == ["세제", "[UNK]"]
    assert T.forward_pieces("Q세제", tok._token_dict) == ["[UNK]", "[UNK]", "[UNK]"]  # no ##세, ##제


def test_whole_sentence(tok):
    text = "본 발명 은 세제액 포 (漢) 에 관한 것 이 다 ."
    assert tok.tokenize(text) == [
        *["[CLS]", "본", "발명", "은", "세제", "##액", "[UNK]", "(", "漢", ")"],
        *["에", "관한", "것", "이", "다", ".", "[SEP]"],
    ]


def test_pieces_to_text_glues_suffix_pieces():
    assert pieces_to_text(["본", "발명", "은", "세제", "##액", "."]) == "본 발명 은 세제액 ."
    assert pieces_to_text(["##", "가"]) == "## 가"


# --- encode, truncation, padding, decode -----------------------------------------


def test_encode_single_truncates_and_pads(tok):
    ids, segments = tok.encode("본 발명 은 세제액", max_len=5)
    d = tok._token_dict
    assert ids == [d["[CLS]"], d["본"], d["발명"], d["은"], d["[SEP]"]]
    assert segments == [0] * 5
    ids, segments = tok.encode("본 발명", max_len=6)
    assert ids == [d["[CLS]"], d["본"], d["발명"], d["[SEP]"], 0, 0]
    assert segments == [0] * 6
    assert tok.decode(ids) == ["본", "발명"]


def test_encode_pair_pops_the_longer_side_second_on_ties(tok):
    d = tok._token_dict
    ids, segments = tok.encode("본 발명 은 것", "이 다", max_len=7)  # 4 + 2 -> 2 + 2
    assert ids == [d[t] for t in ["[CLS]", "본", "발명", "[SEP]", "이", "다", "[SEP]"]]
    assert segments == [0, 0, 0, 0, 1, 1, 1]
    ids, segments = tok.encode("본 발명 은", "이 다 .", max_len=10)  # 3 + 3 fits, one pad
    assert len(ids) == 10 and ids[-1] == tok.pad_index and segments == [0] * 5 + [1] * 4 + [0]
    ids, _ = tok.encode("본 발명 은", "이 다 .", max_len=8)  # tie: the second side loses one
    assert tok.decode(ids) == (["본", "발명", "은"], ["이", "다"])


def test_decode_stops_at_sep_and_padding(tok):
    ids, _ = tok.encode("본 발명", "이 다", max_len=10)
    assert tok.decode(ids) == (["본", "발명"], ["이", "다"])
    assert tok.decode(tok.encode("본")[0]) == ["본"]


def test_fast_mode_cache_and_pickling(tmp_path, layout):
    fast = Tokenizer(write_vocab(tmp_path, layout), mode="fast", pretokenized=True, cache_size=2)
    for _ in range(2):
        assert fast.pieces("세제액 반도체 세Q액") == ["세제", "##액", "반", "##도체", "세", "[UNK]", "##액"]
    clone = pickle.loads(pickle.dumps(fast))
    assert clone._fast is None and clone.pieces("세제액") == ["세제", "##액"]


# --- Mecab ------------------------------------------------------------------------


SENTENCES = [
    "본 고안은 주로 일회용 합성세제액을 집어넣어 밀봉하는 세제액포에 관한 것이다.",
    "상기 양극활물질은 LiNi0.8Co0.1Mn0.1O2를 포함한다.",
    "도 1은 열교환기(100)의 단면도이다. ⓐ ① ㎛ 漢字 혼용.",
    "탭\t과 줄\n바꿈 과 NUL\x00 이 섞인 문장",
    "전각\u3000공백과\xa0NBSP, 단락\u2029구분 (Mecab makes morphemes of some spaces)",
    "",
]


def test_fast_morphemes_equal_python_mecab(tmp_path):
    import mecab

    reference = mecab.MeCab()
    korpat = Tokenizer(write_vocab(tmp_path, "korpat"))
    fast = Tokenizer(write_vocab(tmp_path, "korpat"), mode="fast")
    for s in SENTENCES:
        assert fast.morphs(s) == korpat.morphs(s) == reference.morphs(s)
        assert fast.tokenize(s) == korpat.tokenize(s)
    assert korpat.morpheme_text("합성세제액을 집어넣어") == "합성 세 제액 을 집어넣 어"


def test_user_dictionary_is_used_by_every_mecab_path(tmp_path):
    csv = tmp_path / "user.csv"
    csv.write_text("이산화탄소,,,,NNP,*,F,이산화탄소,*,*,*,*\n", encoding="utf-8")
    dic = tmp_path / "user.dic"
    subprocess.run(
        [sys.executable, "-m", "mecab", "dict-index", f"--userdic={dic}", "--dictionary-charset=utf-8"]
        + ["--charset=utf-8", str(csv)],
        check=True,
        capture_output=True,
    )
    vocab = write_vocab(tmp_path, "bert", [*WORDS, "이산화탄소", "이산화", "탄소", "를"])
    sentence = "이산화탄소를 포집한다."
    for mode in T.MODES:
        stock = Tokenizer(vocab, mode=mode)
        user = Tokenizer(vocab, mode=mode, user_dictionary_path=str(dic))
        assert "이산화탄소" not in stock.morphs(sentence) and "이산화탄소" in user.morphs(sentence)
        assert user.pieces(sentence)[:2] == ["이산화탄소", "를"]
        assert stock.pieces(sentence)[:3] == ["이산화", "탄소", "를"]


# --- CLI --------------------------------------------------------------------------


def test_tokenize_command(tmp_path, capsys):
    from pipeline.cli import main

    vocab = write_vocab(tmp_path, "korpat")
    assert main(["tokenize", "세제액에 관한 것이다.", "--vocab", vocab, "--mode", "korpat"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "morphemes: 세 제액 에 관한 것 이 다 .",  # Mecab-ko's split, not ours
        "pieces:    [CLS] 세 [UNK] ##액 에 관한 것 이 다 . [SEP]",  # no 제 or ##제 in the vocab
        "ids:       5 10 4 9 24 25 26 27 28 19 6",
    ]
    # No --vocab and no vocab stage output under the config's output_root.
    assert main(["tokenize", "문장", "--config", str(tmp_path / "no-such-pipeline.yaml")]) == 2
    assert "--vocab" in capsys.readouterr().err
    assert main(["tokenize", "문장", "--vocab", str(tmp_path / "missing.txt")]) == 2


# --- TensorFlow -------------------------------------------------------------------


def test_tf_tokenizer_matches_python_on_literal_cases(tmp_path, layout):
    import tensorflow as tf

    from pipeline.text.tf_tokenizer import TFTokenizer

    texts = [
        "본 발명 은 세제액 포 (漢) 에 관한 것 이 다 .",
        "세Q액 QQ 세제Q Q세제 반도체",
        "가\u3000나\u2028다\x0b라 a$b \x00\ufffd",
        "",
    ]
    for words in (WORDS, FLIPPED):
        py = Tokenizer(write_vocab(tmp_path, layout, words), pretokenized=True)
        tf_tok = TFTokenizer.from_tokenizer(py)
        expected = [[py._token_dict[p] for p in py.pieces(t)] for t in texts]
        assert tf_tok.tokenize(tf.constant(texts)).to_list() == expected
        # In a graph too (tf.data, SavedModel signatures), where shapes are unknown.
        graph = tf.function(tf_tok.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
        assert graph(tf.constant(texts)).to_list() == expected
        ids, segments = tf_tok.encode(tf.constant(texts), max_len=6)
        assert ids.numpy().tolist() == [py.encode(t, max_len=6)[0] for t in texts]
        assert not segments.numpy().any()


def test_modes_and_tf_agree_on_random_odd_strings(tmp_path, layout):
    import random

    import tensorflow as tf

    from pipeline.text.tf_tokenizer import TFTokenizer

    rng = random.Random(5)
    odd = list(
        "세제액반도체 \t\n\r\x0b\x1c\x85\u2028\u2029\u3000\xa0\x00\ufeff\u200b\ufffd.,()$^`~·℃㎛A1漢\uf900é"
    )
    odd += ["\U00020000", "\U0002f800", "\U00011b00", "\u0301", "Q"]
    words = [w.removeprefix("##") for w in WORDS]
    texts = []
    for _ in range(3000):
        parts = [
            rng.choice(words) if rng.random() < 0.5 else "".join(rng.choices(odd, k=3)) for _ in range(5)
        ]
        texts.append("".join(parts) if rng.random() < 0.5 else " ".join(parts))
    vocab = write_vocab(tmp_path, layout)
    for cased in (True, False):
        korpat, fast = (Tokenizer(vocab, mode=m, cased=cased, pretokenized=True) for m in T.MODES)
        assert [fast.pieces(t) for t in texts] == [korpat.pieces(t) for t in texts]
    tf_tok = TFTokenizer.from_tokenizer(korpat := Tokenizer(vocab, pretokenized=True))
    expected = [[korpat._token_dict[p] for p in korpat.pieces(t)] for t in texts]
    assert tf_tok.tokenize(tf.constant(texts)).to_list() == expected


# --- the demo corpus (slow) ---------------------------------------------------------


@pytest.fixture(scope="session")
def demo_sentences(tmp_path_factory):
    """Cleaned sentences of the demo corpus, from `python -m pipeline run --stages ingest,clean`."""
    import glob

    import pyarrow.parquet as pq
    import yaml

    folder = tmp_path_factory.mktemp("demo")
    with open(os.path.join(REPO, "pipeline.yaml"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["output_root"] = str(folder / "out")
    for spec in data["inputs"]:
        spec["glob"] = os.path.join(REPO, spec["glob"])
    config = folder / "pipeline.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--stages", "ingest,clean", "--config", str(config)],
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sentences = []
    for path in sorted(glob.glob(str(folder / "out" / "clean" / "sentences" / "*.parquet"))):
        sentences += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    assert len(sentences) > 2500
    return sentences


@pytest.fixture(scope="session")
def demo_morphemes(demo_sentences):
    import mecab

    reference = mecab.MeCab()
    return [" ".join(reference.morphs(s)).strip() for s in demo_sentences]


@pytest.fixture(scope="session")
def demo_vocabs(demo_morphemes, tmp_path_factory):
    """KorPatBERT-style vocabularies learned from the demo morphemes, as KIPI made theirs:
    SentencePiece BPE (coverage < 1, so rare characters are [UNK]) converted to
    WordPiece form (`▁x` -> `x`, `x` -> `##x`). Returns {name: path}: `korpat`
    and `bert` layouts, and `full` (bert, every character added, no [UNK])."""
    from pipeline.pretraining.vocab_learning import (
        sentencepiece_pieces,
        sentencepiece_to_wordpiece,
        train_sentencepiece,
    )

    model, _ = train_sentencepiece(demo_morphemes, 3000, character_coverage=0.995)
    pieces = [p for p, _ in sentencepiece_pieces(model)]
    assert tuple(pieces[:8]) == T.KORPAT_HEAD
    words = sentencepiece_to_wordpiece(pieces)[len(T.KORPAT_HEAD) :]
    chars = sorted({c for m in demo_morphemes for w in basic_split(m) for c in w})
    missing = [c for c in chars if c not in words] + [f"##{c}" for c in chars if f"##{c}" not in words]
    folder = tmp_path_factory.mktemp("vocabs")
    return {
        "korpat": write_vocab(folder, "korpat", words),
        "bert": write_vocab(folder, "bert", words),
        "full": write_vocab(folder, "bert", words + missing, name="full.txt"),
    }


@pytest.mark.slow
def test_fast_morphemes_equal_python_mecab_on_demo(demo_sentences, demo_morphemes, tmp_path):
    fast = Tokenizer(write_vocab(tmp_path, "bert"), mode="fast")
    assert [fast.morpheme_text(s) for s in demo_sentences] == demo_morphemes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["korpat", "bert"])
def test_fast_mode_equals_korpat_mode_on_demo(demo_sentences, demo_morphemes, demo_vocabs, name):
    vocab = demo_vocabs[name]
    korpat, fast = Tokenizer(vocab), Tokenizer(vocab, mode="fast")
    assert [fast.tokenize(s) for s in demo_sentences] == [korpat.tokenize(s) for s in demo_sentences]

    korpat_pre, fast_pre = (Tokenizer(vocab, mode=m, pretokenized=True) for m in T.MODES)
    for t in (korpat_pre, fast_pre):
        t.results = [t.encode(m, max_len=64) for m in demo_morphemes]
        t.results += [
            t.encode(a, b, max_len=40) for a, b in zip(demo_morphemes[:-1], demo_morphemes[1:], strict=True)
        ]
        t.results += [t.decode(ids) for ids, _ in t.results]
    assert fast_pre.results == korpat_pre.results

    # The corpus exercises what the modes could disagree on.
    d = korpat._token_dict
    choices = {"forward": 0, "backward": 0, "unk": 0}
    for m in demo_morphemes:
        for word in basic_split(m):
            forward, backward = T.forward_pieces(word, d), T.backward_pieces(word, d)
            choices["unk"] += "[UNK]" in forward
            if forward != backward:
                choices["forward" if T.choose_pieces(forward, backward, d) is forward else "backward"] += 1
    assert choices["forward"] > 20 and choices["backward"] > 100 and choices["unk"] > 100, choices


@pytest.mark.slow
def test_round_trip_on_demo(demo_sentences, demo_morphemes, demo_vocabs):
    tok = Tokenizer(demo_vocabs["full"], mode="fast")
    exact = 0
    for sentence, morphemes in zip(demo_sentences, demo_morphemes, strict=True):
        ids, _ = tok.encode(sentence)
        restored = pieces_to_text(tok.decode(ids))
        padded, _ = tok.encode(sentence, max_len=len(ids) + 3)
        assert pieces_to_text(tok.decode(padded)) == restored
        # The morphemes with their spacing, except that a morpheme holding
        # punctuation or CJK next to something else (Mecab's '%,', '℃,', '勾配')
        # comes back split, as the model sees it.
        assert restored == " ".join(basic_split(morphemes)), sentence
        if all(len(basic_split(m)) == 1 for m in morphemes.split()):
            assert restored == morphemes
            exact += 1
    assert exact > 2600, exact  # most of the demo sentences


@pytest.mark.slow
@pytest.mark.parametrize("name", ["korpat", "bert"])
def test_tf_tokenizer_agrees_on_the_whole_demo_corpus(demo_morphemes, demo_vocabs, name):
    import tensorflow as tf

    from pipeline.text.tf_tokenizer import TFTokenizer

    py = Tokenizer(demo_vocabs[name], pretokenized=True, mode="fast")
    tf_tok = TFTokenizer.from_tokenizer(py)
    got = tf_tok.tokenize(tf.constant(demo_morphemes)).to_list()
    expected = [[py._token_dict[p] for p in py.pieces(m)] for m in demo_morphemes]
    agree = sum(a == b for a, b in zip(got, expected, strict=True))
    assert agree == len(demo_morphemes)  # every demo sentence, exact
    ids, _ = tf_tok.encode(tf.constant(demo_morphemes), max_len=64)
    assert ids.numpy().tolist() == [py.encode(m, max_len=64)[0] for m in demo_morphemes]


@pytest.mark.slow
def test_tf_basic_split_matches_python_on_every_code_point():
    import tensorflow as tf

    from pipeline.text.tf_tokenizer import basic_split as tf_basic_split

    codes = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = [f"a{chr(c)}b" for c in codes]
    got = tf_basic_split(tf.constant(texts)).to_list()
    differ = [
        hex(c) for c, t, g in zip(codes, texts, got, strict=True) if basic_split(t) != [w.decode() for w in g]
    ]
    assert differ == []
