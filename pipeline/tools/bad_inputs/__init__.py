"""The bad-input corpus and its harness (`python -m pipeline bad-inputs`).

prose.py    the deterministic Korean patent-style text the files hold
files.py    builders: publications -> good, damaged or hostile file bytes
cases.py    the case table (file, expected outcome) and `write_corpus`
harness.py  runs ingest + clean on the corpus and checks every outcome
"""
