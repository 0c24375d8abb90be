"""The TFX side: pipeline factory, anomalies gate and the BERT/ELECTRA trainer (components/trainer)."""
