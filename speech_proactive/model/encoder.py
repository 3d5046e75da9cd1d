"""Streaming Whisper-compatible audio encoder.

Same parameters and parameter names as `whisper.model.AudioEncoder`, so a Whisper checkpoint loads as it is,
plus a per-mel-channel input normalisation (`mel_mean`, `mel_std`; identity for Whisper weights). A model
trained from scratch sets it from its training data: measured on the grammar corpus, it made the auxiliary
CTC loss fall about 20% faster in the first 100 steps.
Three ways to run it:
- `forward_full(mel)`: Whisper's own computation (full attention, convs over the whole input), any length
  up to the positional table;
- `forward_blockwise(mel)`: the streaming model in one pass: convs never look past the end of the chunk
  they belong to, and a block-causal mask lets each chunk attend to itself and every earlier chunk (or the
  last `left_context_chunks` of them);
- `step(mel_chunk, state)`: one chunk at a time with a per-layer KV cache; equals `forward_blockwise`.

Convolutions in streaming: conv1 (k=3, stride 1) and conv2 (k=3, stride 2) need one frame of right context
each. Within a chunk they get it; at the chunk's right edge conv1 sees zeros (as Whisper's does at the end of
its input), so no chunk ever waits for audio beyond itself. The 2 mel frames of left context come from the
previous chunk and are kept in the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from speech_proactive.config import EncoderConfig
from speech_proactive.model.kv_cache import GrowingKV

CONV_LEFT_CONTEXT = 2  # mel frames: conv2's first output needs conv1 frame -1, which needs mel frames -2..0


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """Whisper's fixed sinusoidal positional table (same formula, so checkpoints match)."""
    log_timescale_increment = torch.log(torch.tensor(max_timescale)) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


class MultiHeadAttention(nn.Module):
    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._heads(self.key(x)), self._heads(self.value(x))

    def forward(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
        """x: [B, T, D] queries; k, v: [B, H, S, D/H]; mask: bool [T, S], True = may attend."""
        q = self._heads(self.query(x))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(a.transpose(1, 2).flatten(2))

    def forward_streams(self, x: Tensor, ks: list[Tensor], vs: list[Tensor]) -> Tensor:
        """x: [B, T, D], the rows of len(ks) streams in order; ks[i], vs[i]: stream i's keys and values, of its
        own length. Projections run over the whole batch; attention one stream at a time, over its own cache
        (copying every cache into one padded batch cost more than the attention itself on a CPU)."""
        q = self._heads(self.query(x)).split(x.shape[0] // len(ks))
        a = torch.cat([F.scaled_dot_product_attention(qi, k, v) for qi, k, v in zip(q, ks, vs)])
        return self.out(a.transpose(1, 2).flatten(2))

    def _heads(self, x: Tensor) -> Tensor:
        return x.view(*x.shape[:2], self.n_head, -1).transpose(1, 2)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        h = self.attn_ln(x)
        x = x + self.attn(h, *self.attn.project_kv(h), mask)
        return x + self.mlp(self.mlp_ln(x))

    def step(self, x: Tensor, caches: list[LayerCache], n_keys: int = 0) -> Tensor:
        """x [B, n, D]: the new frames of B streams, appended to their caches: one cache per row (the caches may
        differ in length), or one cache for all rows. n_keys: attend to only each cache's last n_keys entries
        (0: all)."""
        h = self.attn_ln(x)
        k, v = self.attn.project_kv(h)
        rows = x.shape[0] // len(caches)
        ks, vs = [], []
        for b, cache in enumerate(caches):
            kb, vb = cache.append(k[b * rows : (b + 1) * rows], v[b * rows : (b + 1) * rows])
            ks.append(kb[:, :, -n_keys:] if n_keys else kb)
            vs.append(vb[:, :, -n_keys:] if n_keys else vb)
        x = x + self.attn.forward_streams(h, ks, vs)
        return x + self.mlp(self.mlp_ln(x))


# per-layer K/V of a stream: a chunk sees all earlier frames, and copies only its own into the cache
LayerCache = GrowingKV


@dataclass
class EncoderState:
    """Per-stream encoder state: conv left context, per-layer KV caches, frames produced so far."""

    mel_context: Tensor | None = None  # [B, n_mels, CONV_LEFT_CONTEXT] last mel frames of the previous chunk
    caches: list[LayerCache] = field(default_factory=list)
    n_frames: int = 0  # encoder frames produced (= positions used in the positional table)

    def reset(self) -> None:
        self.mel_context = None
        self.caches = []
        self.n_frames = 0


class StreamingEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        d = cfg.n_audio_state
        self.conv1 = nn.Conv1d(cfg.n_mels, d, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d, d, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(cfg.n_audio_ctx, d))
        self.register_buffer("mel_mean", torch.zeros(cfg.n_mels))
        self.register_buffer("mel_std", torch.ones(cfg.n_mels))
        self.blocks = nn.ModuleList(ResidualAttentionBlock(d, cfg.n_audio_head) for _ in range(cfg.n_audio_layer))
        self.ln_post = nn.LayerNorm(d)

    # -- Whisper's computation ---------------------------------------------------------------------------
    def forward_full(self, mel: Tensor) -> Tensor:
        """[B, n_mels, T] -> [B, ceil(T / 2), D] with full attention (Whisper's AudioEncoder)."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(self.normalize(mel))))).transpose(1, 2)
        x = x + self._positions(0, x.shape[1])
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)

    # -- the streaming model -----------------------------------------------------------------------------
    def forward_blockwise(self, mel: Tensor, n_mel_frames: Tensor | None = None) -> Tensor:
        """[B, n_mels, T] -> [B, ceil(T / 2), D], block-causal over chunks; equals chunk-by-chunk `step`.

        For a right-padded batch give the true lengths `n_mel_frames` [B]: each must be even or equal T (an
        odd tail's conv2 padding would otherwise see the next example's padding, not zeros), and the padding
        must be zeros (what a stream's last chunk sees past its end). Outputs past each length are zero.
        """
        x = self._conv_all_chunks(self.normalize(mel, n_mel_frames))
        x = x + self._positions(0, x.shape[1])
        mask = self.block_causal_mask(x.shape[1], x.device)
        valid = None
        if n_mel_frames is not None:
            if bool(((n_mel_frames % 2 == 1) & (n_mel_frames != mel.shape[2])).any()):
                raise ValueError(f"padded batch needs even mel lengths, got {n_mel_frames.tolist()}")
            valid = torch.arange(x.shape[1], device=x.device)[None, :] < ((n_mel_frames + 1) // 2)[:, None]
            mask = (mask[None] & valid[:, None, :])[:, None]  # [B, 1, T, T]: no key past an example's end
        for block in self.blocks:
            x = block(x, mask=mask)
        x = self.ln_post(x)
        return x if valid is None else x * valid[:, :, None]

    def step(self, mel_chunk: Tensor, state: EncoderState) -> Tensor:
        """One chunk [1, n_mels, t <= chunk_mel_frames] -> its encoder frames [1, ceil(t / 2), D].

        Only the last chunk of a stream may be shorter than `chunk_mel_frames`.
        """
        return self.step_streams(mel_chunk, [state])

    def step_streams(self, mel_chunks: Tensor, states: list[EncoderState]) -> Tensor:
        """`step` of several streams at once: row b of mel_chunks [B, n_mels, t] is the next chunk of the stream
        whose state is states[b]. Each row's output is what `step` gives that stream alone (up to float
        rounding): its own conv context, positions and cache."""
        if mel_chunks.shape[2] > self.cfg.chunk_mel_frames:
            raise ValueError(f"chunk of {mel_chunks.shape[2]} mel frames > {self.cfg.chunk_mel_frames}")
        if len(states) not in (1, mel_chunks.shape[0]):  # one state may hold a batch of streams run in lockstep
            raise ValueError(f"{mel_chunks.shape[0]} chunks for {len(states)} stream states")
        n = (mel_chunks.shape[2] + 1) // 2  # conv2 has stride 2
        positions = torch.stack([self._positions(state.n_frames, n) for state in states])  # checked before any
        for state in states:  # state changes, so a failed batch leaves every stream as it was
            state.caches = state.caches or [LayerCache() for _ in self.blocks]
        x = self._conv_chunk(self.normalize(mel_chunks), states) + positions
        window = self.cfg.left_context_frames
        for i, block in enumerate(self.blocks):
            # a chunk sees all of itself and its cache's last `window` frames (every earlier chunk is full)
            caches = [state.caches[i] for state in states]
            x = block.step(x, caches, n_keys=window + n if window else 0)
            if window:
                for cache in caches:
                    cache.keep_last(window)  # what the next chunk may see; the rest is dropped
        for state in states:
            state.n_frames += n
        return self.ln_post(x)

    def normalize(self, mel: Tensor, n_mel_frames: Tensor | None = None) -> Tensor:
        """Per-channel input normalisation; frames past `n_mel_frames` stay zero (a stream's end sees zeros)."""
        x = (mel - self.mel_mean[:, None]) / self.mel_std[:, None]
        if n_mel_frames is not None:
            x = x * (torch.arange(mel.shape[2], device=mel.device)[None, :] < n_mel_frames[:, None])[:, None, :]
        return x

    @torch.no_grad()
    def set_input_stats(self, mels: list[Tensor]) -> None:
        """Set the normalisation from a sample of utterances' log-mels ([n_mels, T] each)."""
        frames = torch.cat(mels, dim=1)
        self.mel_mean.copy_(frames.mean(dim=1))
        self.mel_std.copy_(frames.std(dim=1).clamp_min(1e-3))

    def block_causal_mask(self, n_frames: int, device: torch.device | None = None) -> Tensor:
        chunk_id = torch.arange(n_frames, device=device) // self.cfg.chunk_enc_frames
        behind = chunk_id[:, None] - chunk_id[None, :]  # how many chunks the key lies behind the query
        if self.cfg.left_context_chunks:
            return (behind >= 0) & (behind <= self.cfg.left_context_chunks)
        return behind >= 0

    def _conv_all_chunks(self, mel: Tensor) -> Tensor:
        """`_conv_chunk` over every chunk of a whole input, the full chunks folded into the batch: one conv
        call instead of one per chunk (the per-chunk loop made the conv backward most of a training step)."""
        b, n_mels, t = mel.shape
        c = self.cfg.chunk_mel_frames
        n_full = t // c
        state = EncoderState()
        out = []
        if n_full:
            chunks = mel[:, :, : n_full * c].reshape(b, n_mels, n_full, c).transpose(1, 2)  # [B, nC, n_mels, c]
            context = torch.cat(
                [chunks.new_zeros(b, 1, n_mels, CONV_LEFT_CONTEXT), chunks[:, :-1, :, -CONV_LEFT_CONTEXT:]], dim=1
            )
            x = torch.cat([context, chunks], dim=3).reshape(b * n_full, n_mels, c + CONV_LEFT_CONTEXT)
            h = F.gelu(F.conv1d(F.pad(x, (0, 1)), self.conv1.weight, self.conv1.bias))  # frames -1 .. c-1
            keep = torch.ones(n_full, h.shape[2], dtype=h.dtype, device=h.device)
            keep[0, 0] = 0.0  # the first chunk's conv1 frame -1 lies before the input: zero, as in `_conv_chunk`
            h = (h.reshape(b, n_full, -1, h.shape[2]) * keep[None, :, None, :]).reshape(b * n_full, -1, h.shape[2])
            h = F.pad(h, (0, c % 2))
            y = F.gelu(F.conv1d(h, self.conv2.weight, self.conv2.bias, stride=2))  # [B*nC, D, ceil(c/2)]
            out.append(y.reshape(b, n_full, y.shape[1], y.shape[2]).permute(0, 1, 3, 2).reshape(b, -1, y.shape[1]))
            state.mel_context = mel[:, :, n_full * c - CONV_LEFT_CONTEXT : n_full * c]
        if t > n_full * c:
            out.append(self._conv_chunk(mel[:, :, n_full * c :], [state]))
        return torch.cat(out, dim=1)

    def _conv_chunk(self, mel_chunks: Tensor, states: list[EncoderState]) -> Tensor:
        """Convs of one chunk per stream (row b: states[b]'s stream; a whole batch, B rows, for one state) with
        the previous chunk's last mel frames as left context; zeros on the right."""
        b, n_mels, t = mel_chunks.shape
        rows = b // len(states)  # rows per state: 1, or all of them
        firsts = [state.mel_context is None for state in states]
        zeros = mel_chunks.new_zeros(rows, n_mels, CONV_LEFT_CONTEXT)
        context = torch.cat([zeros if first else state.mel_context for first, state in zip(firsts, states)])
        x = torch.cat([context, mel_chunks], dim=2)
        for i, state in enumerate(states):
            state.mel_context = x[i * rows : (i + 1) * rows, :, -CONV_LEFT_CONTEXT:]
        h = F.gelu(F.conv1d(F.pad(x, (0, 1)), self.conv1.weight, self.conv1.bias))  # frames -1 .. t-1
        if any(firsts):  # conv1 frame -1 lies before the input: Whisper's conv2 padding makes it zero
            keep = torch.tensor([not f for f in firsts], dtype=h.dtype, device=h.device).repeat_interleave(rows)
            h = torch.cat([h[:, :, :1] * keep[:, None, None], h[:, :, 1:]], dim=2)
        h = F.pad(h, (0, t % 2))  # odd tail: conv2's zero padding, as in Whisper
        return F.gelu(F.conv1d(h, self.conv2.weight, self.conv2.bias, stride=2)).transpose(1, 2)

    def _positions(self, start: int, n: int) -> Tensor:
        if start + n > self.cfg.n_audio_ctx:
            raise ValueError(
                f"audio too long for the encoder's positional table: frames {start}..{start + n} > "
                f"n_audio_ctx={self.cfg.n_audio_ctx} ({self.cfg.n_audio_ctx * 20 / 1000:.0f} s)"
            )
        return self.positional_embedding[start : start + n]
