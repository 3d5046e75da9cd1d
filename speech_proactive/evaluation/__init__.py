"""Evaluation: sweep policies over test sets (sweep, results, the `evaluate` command), score quality and latency
(metrics/), compare at matched latency, plot, and evaluate unsegmented talks (longform/)."""
