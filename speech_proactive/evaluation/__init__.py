"""Evaluation: decode test sets through a session (decode), sweep policies over them (sweep, results, the
`evaluate` command), score quality and latency (metrics/), compare at matched latency, plot, and evaluate
unsegmented talks (longform/)."""
