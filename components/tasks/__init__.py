"""Downstream evaluation of a pretrained encoder, as KorPatELECTRA reports it: patent NER
(entity F1), CPC classification (accuracy) and PatQuAD-style QA (EM / F1)."""
