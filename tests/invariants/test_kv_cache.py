"""The in-place growing KV cache layer gives attention exactly what transformers' DynamicLayer gives it."""

import torch
from transformers.cache_utils import DynamicLayer

from speech_proactive.model.encoder import LayerCache
from speech_proactive.model.kv_cache import GrowingLayer


def test_growing_layer_equals_dynamic_layer_through_appends_and_crops():
    g = torch.Generator().manual_seed(0)
    ours, theirs = GrowingLayer(), DynamicLayer()
    assert ours.get_seq_length() == theirs.get_seq_length() == 0
    for n_new in [3, 1, 1, 5, 1, 17, 2, 1, 40, 1]:  # crosses several doublings of the buffer
        k, v = torch.randn(1, 2, n_new, 8, generator=g), torch.randn(1, 2, n_new, 8, generator=g)
        got, want = ours.update(k, v), theirs.update(k, v)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
        if n_new == 1:  # the session's undo of a peeked token
            ours.crop(-1)
            theirs.crop(-1)
        assert ours.get_seq_length() == theirs.get_seq_length()
        assert torch.equal(ours.keys, theirs.keys) and torch.equal(ours.values, theirs.values)
    ours.reset()
    assert ours.get_seq_length() == 0 and ours.keys is None


def test_encoder_cache_holds_every_frame_across_growth():
    cache, frames = LayerCache(), []
    for i in range(9):
        k = torch.full((1, 2, 16, 4), float(i))
        frames.append(k)
        got_k, got_v = cache.append(k, -k)
        assert torch.equal(got_k, torch.cat(frames, dim=2)) and torch.equal(got_v, -torch.cat(frames, dim=2))
    assert cache.nbytes >= got_k.numel() * 4 * 2
