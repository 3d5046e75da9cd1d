"""Invariants of the streaming encoder: chunk by chunk == one block-causal pass; full mode == Whisper."""

import pytest
import torch
import whisper.model

from speech_proactive.config import EncoderConfig
from speech_proactive.model.encoder import EncoderState, StreamingEncoder
from speech_proactive.model.whisper_weights import load_whisper_encoder


def _encoder(chunk_ms: int, seed: int = 0, left_context_chunks: int = 0) -> StreamingEncoder:
    torch.manual_seed(seed)
    cfg = EncoderConfig(
        n_mels=80,
        n_audio_ctx=400,
        n_audio_state=32,
        n_audio_head=4,
        n_audio_layer=2,
        chunk_ms=chunk_ms,
        left_context_chunks=left_context_chunks,
    )
    enc = StreamingEncoder(cfg).eval()
    with torch.no_grad():  # a non-identity input norm: the invariants must hold with it
        enc.mel_mean.uniform_(-1, 1)
        enc.mel_std.uniform_(0.5, 2)
    return enc


@pytest.mark.parametrize("seed", range(6))
def test_streaming_equals_blockwise(seed):
    g = torch.Generator().manual_seed(seed)
    chunk_ms = 20 * int(torch.randint(1, 33, (1,), generator=g))  # 20 .. 640 ms
    n_mel = int(torch.randint(1, 700, (1,), generator=g))  # any length, odd tails included
    enc = _encoder(chunk_ms, seed)
    mel = torch.randn(2, 80, n_mel, generator=g)
    with torch.no_grad():
        batch = enc.forward_blockwise(mel)
        state = EncoderState()
        streamed = torch.cat([enc.step(c, state) for c in mel.split(enc.cfg.chunk_mel_frames, dim=2)], dim=1)
    assert batch.shape == (2, (n_mel + 1) // 2, 32)
    torch.testing.assert_close(streamed, batch)


@pytest.mark.parametrize("seed", range(4))
def test_streaming_equals_blockwise_with_bounded_left_context(seed):
    """The band mask of one pass == chunk by chunk with a cache that drops what no later chunk may see."""
    g = torch.Generator().manual_seed(100 + seed)
    chunk_ms = 20 * int(torch.randint(1, 17, (1,), generator=g))  # 20 .. 320 ms
    left = int(torch.randint(1, 5, (1,), generator=g))
    enc = _encoder(chunk_ms, seed, left_context_chunks=left)
    n_mel = enc.cfg.chunk_mel_frames * (left + 1) * 5 + int(torch.randint(0, 40, (1,), generator=g))
    mel = torch.randn(2, 80, min(n_mel, 799), generator=g)
    with torch.no_grad():
        batch = enc.forward_blockwise(mel)
        state, out, held = EncoderState(), [], []
        for c in mel.split(enc.cfg.chunk_mel_frames, dim=2):
            out.append(enc.step(c, state))
            held.append(state.caches[0].n)
    torch.testing.assert_close(torch.cat(out, dim=1), batch)
    window = enc.cfg.left_context_frames
    assert max(held) < 2 * window + enc.cfg.chunk_enc_frames  # the cache stays bounded, whatever the length
    with torch.no_grad():
        unbounded = _encoder(chunk_ms, seed).forward_blockwise(mel)
    assert not torch.allclose(unbounded, batch)  # the window binds on this input


def test_a_window_longer_than_the_input_changes_nothing():
    """Why the recipe could bound its encoder without retraining: no training utterance reaches the window."""
    bounded, unbounded = _encoder(320, 3, left_context_chunks=31), _encoder(320, 3)
    mel = torch.randn(1, 80, 32 * 15 + 7)  # 15.2 chunks, 4.9 s: longer than any grammar-corpus utterance
    with torch.no_grad():
        assert torch.equal(bounded.forward_blockwise(mel), unbounded.forward_blockwise(mel))


def test_left_context_bounds_what_a_chunk_sees():
    """With one chunk of left context and two layers, chunk 4 no longer depends on chunk 0."""
    mel = torch.randn(1, 80, 32 * 6)
    changed = mel.clone()
    changed[:, :, :32] = torch.randn(1, 80, 32)
    for left, depends in ((1, False), (0, True)):
        enc = _encoder(320, left_context_chunks=left)
        with torch.no_grad():
            a, b = enc.forward_blockwise(mel), enc.forward_blockwise(changed)
        assert torch.allclose(a[:, 64:], b[:, 64:]) != depends


def test_bad_left_context_rejected():
    with pytest.raises(ValueError, match="left_context_chunks"):
        EncoderConfig(left_context_chunks=-1).validate()


def test_chunk_never_sees_the_future():
    enc = _encoder(320)
    mel = torch.randn(1, 80, 128)
    changed = mel.clone()
    changed[:, :, 64:] = torch.randn(1, 80, 64)  # change chunks 2 and 3
    with torch.no_grad():
        a, b = enc.forward_blockwise(mel), enc.forward_blockwise(changed)
    torch.testing.assert_close(a[:, :32], b[:, :32])  # chunks 0 and 1 (16 frames each) unchanged
    assert not torch.allclose(a[:, 32:], b[:, 32:])


def test_whisper_checkpoint_full_context_equals_whisper(tmp_path):
    dims = whisper.model.ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=4,
        n_audio_layer=2,
        n_vocab=64,
        n_text_ctx=8,
        n_text_state=64,
        n_text_head=4,
        n_text_layer=1,
    )
    torch.manual_seed(1)
    ref = whisper.model.Whisper(dims).eval()
    path = tmp_path / "tiny-whisper.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": ref.state_dict()}, path)
    assert whisper.load_model(str(path), device="cpu").dims == dims  # a file whisper itself loads

    cfg, state = load_whisper_encoder(path)
    enc = StreamingEncoder(cfg).eval()
    enc.load_state_dict(state)
    mel = torch.randn(1, 80, 3000)  # 30 s, Whisper's fixed input
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_full(mel), ref.encoder(mel))
        assert enc.forward_full(mel[:, :, :700]).shape == (1, 350, 64)  # no 30 s padding needed


def test_too_long_for_positional_table_is_a_clear_error():
    enc = _encoder(320)
    with pytest.raises(ValueError, match="positional table"):
        enc.forward_blockwise(torch.randn(1, 80, 801))
    state = EncoderState()
    with torch.no_grad():
        for _ in range(25):
            enc.step(torch.randn(1, 80, 32), state)
        with pytest.raises(ValueError, match="n_audio_ctx=400"):
            enc.step(torch.randn(1, 80, 32), state)


def test_bad_chunk_size_rejected():
    with pytest.raises(ValueError, match="multiple of 20 ms"):
        EncoderConfig(chunk_ms=330).validate()


def test_padded_batch_equals_each_alone():
    enc = _encoder(320)
    lengths = [200, 64, 138, 2]
    mels = [torch.randn(80, n) for n in lengths]
    batch = torch.zeros(len(mels), 80, max(lengths))
    for i, m in enumerate(mels):
        batch[i, :, : m.shape[1]] = m
    with torch.no_grad():
        out = enc.forward_blockwise(batch, torch.tensor(lengths))
        for i, m in enumerate(mels):
            alone = enc.forward_blockwise(m[None])[0]
            torch.testing.assert_close(out[i, : len(alone)], alone)
            assert not out[i, len(alone) :].any()
    with pytest.raises(ValueError, match="even"):
        enc.forward_blockwise(batch, torch.tensor([199, 64, 138, 2]))
