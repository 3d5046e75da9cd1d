"""The decoder-only LLM under the group-position layout: masks and positions (group_positions), the batch
and streaming runs (streaming_lm), and two faster streaming steps (lean: plain tensor code; graphed: CUDA graphs)."""
