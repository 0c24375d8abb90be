"""The model outside the pipeline: Google BERT / ELECTRA checkpoints and Hugging Face folders.

    google_bert.py   our Model Garden weights <-> google-research/bert and
                     google-research/electra variable names and shapes
    huggingface.py   Google names <-> transformers' names; config.json,
                     model.safetensors, tokenizer files, model card
    package.py       the whole export folder (saved_model/, google/, hf/, tokenizer/)
    checkpoint.py    a Google-layout or hf/ folder -> our pretrainer (init_checkpoint)
    cli.py           `export_command(argv)`, what `python -m pipeline export` runs

Bad input raises `ModelFormatError` with the file or variable named; the CLI
maps it to exit status 2.
"""


class ModelFormatError(ValueError):
    """A model folder or checkpoint that cannot be read or does not fit (exit 2)."""
