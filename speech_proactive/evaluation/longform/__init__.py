"""Long-form (unsegmented) evaluation under FBK's simulstream: talks built from test utterances (talks), run
(run) and scored with resegmented BLEU and StreamLAAL (score).  python -m speech_proactive.evaluation.longform"""
