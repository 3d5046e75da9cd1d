"""Scores: latency (AL, LAAL, AP, DAL, ATD, computed from SimulEval-style delays), quality (BLEU, chrF, WER)
and spoken-QA answers (EM, F1, answer latency)."""
