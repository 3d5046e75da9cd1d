"""Corpora: one manifest format for all of them, and one module per corpus builder or loader."""
