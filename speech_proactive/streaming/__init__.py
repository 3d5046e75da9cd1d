"""Streaming inference: a session reads audio chunk by chunk, a policy decides READ or WRITE after each one.

session (the READ/WRITE loop), from_bundle (a ready session from a bundle folder and a policy string), decode
(a manifest's utterances through a session), policies (pure decision functions) and policy_spec (their
command-line strings), calibrate (thresholds as dev-set quantiles) and probe_head (the learned probe), resample
(audio arriving in pieces -> 16 kHz), and for long streams vad, segmenter and events (cut at pauses, report
what happened).
"""
