"""The vocab report's figures and Markdown table on a literal vocabulary."""

from pipeline.pretraining.vocab_report import flavour_report, report_markdown
from pipeline.text.tokenizer import BERT_HEAD, Tokenizer


def test_flavour_report_on_a_literal_vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join([*BERT_HEAD, "본", "발명", "은", "세제", "##액", "."]) + "\n", encoding="utf-8")
    tok = Tokenizer(str(path), mode="fast", pretokenized=True)
    rows = [
        {"morphemes": "본 발명 은 세제액 .", "word_starts": "10101"},  # 본 발명은 세제액.
        {"morphemes": "본 발명 은 漢", "word_starts": "1101"},
    ]
    report = flavour_report(tok, rows, ["발명", "세제액", "표면"], seen_words={"발명", "세제액"})
    assert report["tokens"] == 10
    assert report["unk_rate"] == 0.1
    assert report["tokens_per_sentence"] == 5.0
    assert report["tokens_per_word"] == round(10 / 6, 3)
    assert report["vocab_used_share"] == 1.0
    assert report["dictionary_nouns_single_token_share"] == round(1 / 3, 4)
    assert report["dictionary_nouns_seen"] == 2
    assert report["dictionary_nouns_seen_single_token_share"] == 0.5
    assert report["longest_pieces"][:2] == ["발명", "세제"]
    md = report_markdown(
        {
            "requested": {"bert": 10, "electra": 10},
            "train_sentences": 2,
            "flavours": {"bert": report, "electra": report},
        }
    )
    assert "| [UNK] rate (share of tokens) | 0.1 | 0.1 |" in md
