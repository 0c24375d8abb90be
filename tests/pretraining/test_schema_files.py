"""The committed schema files equal the generator's, and list the parsers' features."""

from pipeline.pretraining import schema_files as S
from pipeline.pretraining.features import tf_feature_spec


def test_committed_schemas_match_the_generator():
    for spec in S.COMMITTED:
        with open(S.committed_path(spec.name), encoding="utf-8") as f:
            assert f.read() == S.schema_text(spec), (
                f"regenerate: python -m pipeline.pretraining.schema_files ({spec.name})"
            )
        schema = S.parse_schema(S.schema_text(spec))
        assert [f.name for f in schema.feature] == list(
            tf_feature_spec(spec.flavour, spec.seq_length, spec.max_predictions)
        )


def test_committed_dynamic_schemas_match_the_generator_and_list_word_ids():
    written = dict(S.committed())
    for spec in S.COMMITTED_DYNAMIC:
        name = S.schema_name(spec.name, "dynamic")
        assert name == f"{spec.name}-dynamic"
        with open(S.committed_path(name), encoding="utf-8") as f:
            assert f.read() == written[name]
        schema = S.parse_schema(written[name])
        assert [f.name for f in schema.feature] == [
            "input_ids",
            "input_mask",
            "segment_ids",
            "word_ids",
            "next_sentence_labels",
        ]
        word_ids = next(f for f in schema.feature if f.name == "word_ids")
        assert (word_ids.int_domain.min, word_ids.int_domain.max) == (0, spec.seq_length - 1)
