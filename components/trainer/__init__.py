"""BERT / ELECTRA pretraining on the `tfrecords` stage's output.

Modules: `settings` (TrainSettings), `models` (size presets and Model Garden
builders), `strategy` (device splitting and tf.distribute strategy), `inputs`
(tf.data pipelines, ELECTRA dynamic masking), `train` (the training loop and
export), `export` (load an exported encoder), `run` (the TFX Trainer
`run_fn`) and `__main__` (`python -m components.trainer`).

Nothing heavy is imported here: TensorFlow loads only when a module needs it.
"""
