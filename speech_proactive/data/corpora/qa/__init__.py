"""A seeded spoken question-answering corpus: fact passages, questions, extractive answers (no audio here).

`generate` draws examples (`passages.py`) from relations stated in several sentence shapes (`facts.py`) over
a small lexicon (`lexicon.py`); `qa_corpus.py` speaks them with espeak-ng and writes manifests.
"""

from speech_proactive.data.corpora.qa.passages import SPLITS, QAExample, generate, split_of

__all__ = ["QAExample", "generate", "split_of", "SPLITS"]
