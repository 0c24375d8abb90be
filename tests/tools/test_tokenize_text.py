"""`tokenize --model` and `stats --model` use the model folder's own tokenizer state."""

import json

from pipeline.cli import main
from pipeline.text.tokenizer import model_tokenizer
from tests.text.test_tokenizer import write_vocab


def _model_folder(tmp_path, settings):
    folder = tmp_path / "export"
    folder.mkdir()
    write_vocab(folder, "korpat", name="vocab.txt")
    if settings is not None:
        (folder / "tokenizer_settings.json").write_text(json.dumps(settings), encoding="utf-8")
    return folder


def test_model_tokenizer_reads_the_settings_the_export_wrote(tmp_path):
    folder = _model_folder(
        tmp_path,
        {"vocab": "vocab.txt", "mode": "korpat", "mecab": {"user_dictionary": "user.dic"}},
    )
    assert model_tokenizer(str(folder)) == {
        "vocab": str(folder / "vocab.txt"),
        "user_dictionary": str(folder / "user.dic"),
        "mode": "korpat",
    }
    # Settings that say no user dictionary was used: none, even if a file lies there.
    (folder / "tokenizer_settings.json").write_text(
        json.dumps({"vocab": "vocab.txt", "mode": "fast", "mecab": {"user_dictionary": None}}),
        encoding="utf-8",
    )
    (folder / "user.dic").write_bytes(b"")
    assert model_tokenizer(str(folder))["user_dictionary"] is None


def test_a_folder_without_settings_falls_back_to_its_files(tmp_path):
    folder = _model_folder(tmp_path, None)
    assert model_tokenizer(str(folder)) == {
        "vocab": str(folder / "vocab.txt"),
        "user_dictionary": None,
        "mode": "fast",
    }


def test_tokenize_with_a_model_folder_equals_tokenize_with_its_files(tmp_path, capsys):
    folder = _model_folder(
        tmp_path, {"vocab": "vocab.txt", "mode": "korpat", "mecab": {"user_dictionary": None}}
    )
    text = "세제액에 관한 것이다."
    assert main(["tokenize", text, "--model", str(folder)]) == 0
    by_model = capsys.readouterr().out
    assert main(["tokenize", text, "--vocab", str(folder / "vocab.txt"), "--mode", "korpat"]) == 0
    assert by_model == capsys.readouterr().out and "pieces:" in by_model
    assert main(["tokenize", text, "--model", str(tmp_path / "nowhere")]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert main(["tokenize", text, "--model", str(folder), "--vocab", str(folder / "vocab.txt")]) == 2
