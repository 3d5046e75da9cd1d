"""Trivial systems the trained model must beat by far: copy the source, and nearest-neighbour lookup.

Both read the *reference transcript* of the source (they never hear the audio), so they are text-side upper
bounds for what a system without any translation ability could score.
"""

from __future__ import annotations

import re

import numpy as np

from speech_proactive.data.manifest import Utterance


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def copy_source(test: list[Utterance]) -> list[str]:
    return [u.src_text for u in test]


def nearest_neighbour(train: list[Utterance], test: list[Utterance]) -> list[str]:
    """The target of the training utterance whose source shares the most words (Dice overlap)."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}

    def matrix(rows: list[Utterance]):
        ind, ptr = [], [0]
        for u in rows:
            ids = sorted({vocab.setdefault(w, len(vocab)) for w in _tokens(u.src_text)})
            ind += ids
            ptr.append(len(ind))
        return ind, ptr

    tr_ind, tr_ptr = matrix(train)
    te_ind, te_ptr = matrix(test)
    shape = (None, len(vocab))
    a = csr_matrix((np.ones(len(tr_ind)), tr_ind, tr_ptr), shape=(len(train), shape[1]))
    b = csr_matrix((np.ones(len(te_ind)), te_ind, te_ptr), shape=(len(test), shape[1]))
    overlap = (b @ a.T).toarray()
    sizes = np.asarray(a.sum(1)).ravel()[None, :] + np.asarray(b.sum(1)).ravel()[:, None]
    best = (2 * overlap / np.maximum(sizes, 1)).argmax(1)
    return [train[i].tgt_text for i in best]
