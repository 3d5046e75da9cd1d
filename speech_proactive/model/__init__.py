"""The model: a streaming Whisper-compatible encoder, an adapter and a decoder-only LLM, and its bundle format.

frontend (incremental log-mel) -> encoder (block-causal, chunk by chunk) -> adapter (frame stacking + MLP)
-> llm/ (the LLM run with the group-position layout, one KV cache in arrival order). speech_llm puts them
together; bundle saves and loads it as one self-describing folder; build assembles one from parts.
"""
