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
