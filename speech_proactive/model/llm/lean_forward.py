"""A lean forward of a Llama/Qwen2-layout decoder for streaming steps.

The same modules, weights and arithmetic as the Hugging Face forward, without its per-call machinery: mask
preprocessing, the attention-interface lookup, kwargs plumbing through every layer, output records. A
streaming step of a small model is a few entries through a few layers, so that machinery is most of its cost
(measured in eval/BENCHMARKS.md, "2026-12-06 ... against the lean forward"). It is also the shape a GPU decode
path needs: plain tensor operations over a cache the caller owns.

`supports(model)` says whether a model has the layout this code assumes; `StreamingLM` falls back to the
Hugging Face forward otherwise. tests/invariants/test_lean_lm.py keeps the two equal (logits, hidden states, attention
weights, through reads, writes and undos).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Families whose decoder layers are input_layernorm -> self_attn (q/k/v/o_proj, rotate-half RoPE) -> residual
# -> post_attention_layernorm -> mlp -> residual, with one rotary table for all layers.
LEAN_MODEL_TYPES = ("qwen2", "llama")


def supports(model: nn.Module) -> bool:
    """True for a Hugging Face causal LM this forward reproduces: a listed family, full attention in every
    layer (no sliding window), no extra per-head norms (as Qwen3 has)."""
    cfg = model.config
    if cfg.model_type not in LEAN_MODEL_TYPES:
        return False
    if any(t != "full_attention" for t in getattr(cfg, "layer_types", None) or ()):
        return False
    decoder = model.get_decoder()
    attn = decoder.layers[0].self_attn
    return not hasattr(attn, "q_norm") and hasattr(decoder, "rotary_emb")


class RopeTable:
    """cos/sin rows of the model's own rotary module for every position up to the largest asked, computed once
    and indexed per step. The default RoPE is elementwise in the position, so a row equals what a per-call
    computation gives; other RoPE types (dynamic scaling depends on the sequence) are computed per call."""

    def __init__(self, rotary: nn.Module):
        self.rotary = rotary
        self.cos: Tensor | None = None
        self.sin: Tensor | None = None

    def __call__(self, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        batched = positions.dim() == 2  # [B, n]: one row of positions per stream of a batched step
        if getattr(self.rotary, "rope_type", "default") != "default":
            return self.rotary(x, (positions if batched else positions[None]).to(x.device))
        need = int(positions.max()) + 1  # read before the move: positions are built on the CPU, no device sync
        positions = positions.to(x.device)
        if self.cos is None or need > len(self.cos) or self.cos.dtype != x.dtype or self.cos.device != x.device:
            cos, sin = self.rotary(x, torch.arange(max(2 * need, 256), device=x.device)[None])
            self.cos, self.sin = cos[0], sin[0]
        if batched:
            return self.cos[positions], self.sin[positions]
        return self.cos[positions][None], self.sin[positions][None]


def forward(
    decoder: nn.Module, embeds: Tensor, allow: Tensor | None, cos: Tensor, sin: Tensor, cache, attentions: bool = False
) -> tuple[Tensor, tuple[Tensor, ...] | None]:
    """Run `embeds` [B, n, D] through every layer, appending their keys/values to `cache` (a transformers
    cache, graphed_lm's static one or stream_batch's view over several streams' caches, whose
    `layers[i].update(k, v)` returns the whole layer's K/V).

    allow: bool [n, n_keys] on the model's device (True = may attend), n_keys = the keys `update` returns;
    None when every query may see every key (a streaming write always can: SDPA then skips the masking pass).
    For several streams with caches of their own (stream_batch.py: `update` returns one K/V per stream), a list
    of such masks, one per stream, and attention weights come back as a list per layer.
    cos, sin: [1 or B, n, head_dim] rotary rows of the new entries' positions (`RopeTable`).
    Returns the last layer's hidden states [B, n, D] after the final norm, and with `attentions` the attention
    weights of every layer [B, heads, n, n_keys] (eager softmax, as Hugging Face's eager kernel computes them).
    Nothing here reads a tensor's value on the host, so the same code runs under CUDA graph capture.
    """
    x, weights = embeds, []
    for i, layer in enumerate(decoder.layers):
        h, w = _attention(
            layer.self_attn, _rms_norm(layer.input_layernorm, x), cos, sin, cache.layers[i], allow, attentions
        )
        x = x + h
        x = x + _mlp(layer.mlp, _rms_norm(layer.post_attention_layernorm, x))
        weights.append(w)
    return _rms_norm(decoder.norm, x), tuple(weights) if attentions else None


def _rms_norm(norm: nn.Module, x: Tensor) -> Tensor:
    """Qwen2/Llama RMSNorm (normalised in fp32, scaled in the input's dtype) as one fused kernel."""
    h = F.rms_norm(x.float(), (x.shape[-1],), eps=norm.variance_epsilon)
    return norm.weight * h.to(x.dtype)


def _mlp(mlp: nn.Module, x: Tensor) -> Tensor:
    return _linear(mlp.down_proj, mlp.act_fn(_linear(mlp.gate_proj, x)) * _linear(mlp.up_proj, x))


def _attention(
    attn: nn.Module, x: Tensor, cos: Tensor, sin: Tensor, layer_cache, allow: Tensor, want_weights: bool
) -> tuple[Tensor, Tensor | None]:
    n = x.shape[1]
    q = _heads(_linear(attn.q_proj, x), attn.head_dim)
    k = _heads(_linear(attn.k_proj, x), attn.head_dim)
    v = _heads(_linear(attn.v_proj, x), attn.head_dim)
    q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
    k, v = layer_cache.update(k, v)
    if isinstance(k, list):  # several streams, each with its own cache (stream_batch.py): one at a time
        outs = [_attend(attn, q[b : b + 1], k[b], v[b], allow[b], want_weights) for b in range(len(k))]
        out, w = torch.cat([o for o, _ in outs]), [w for _, w in outs] if want_weights else None
    else:
        out, w = _attend(attn, q, k, v, allow, want_weights)
    return _linear(attn.o_proj, out.transpose(1, 2).reshape(x.shape[0], n, -1)), w


def _attend(
    attn: nn.Module, q: Tensor, k: Tensor, v: Tensor, allow: Tensor | None, want_weights: bool
) -> tuple[Tensor, Tensor | None]:
    groups = attn.num_key_value_groups
    if want_weights:
        return _eager(q, _repeat(k, groups), _repeat(v, groups), allow, attn.scaling)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allow, scale=attn.scaling, enable_gqa=groups > 1)
    return out, None


def _linear(layer: nn.Module, x: Tensor) -> Tensor:
    if type(layer) is not nn.Linear:  # a wrapped projection (peft's unmerged LoRA) computes more than W x + b
        return layer(x)
    return F.linear(x, layer.weight, layer.bias)  # without the module call's hook checks


def _heads(x: Tensor, head_dim: int) -> Tensor:
    return x.view(*x.shape[:2], -1, head_dim).transpose(1, 2)


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate-half RoPE (cos/sin [1, n, head_dim] from the model's own rotary table)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, None] + rotated * sin[:, None]


def _repeat(x: Tensor, groups: int) -> Tensor:
    """Grouped-query K/V [B, H_kv, S, d] -> one copy per query head [B, H_kv * groups, S, d]."""
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)


def _eager(q: Tensor, k: Tensor, v: Tensor, allow: Tensor | None, scale: float) -> tuple[Tensor, Tensor]:
    """Attention with its weights: softmax in fp32 over the masked scores, as the eager kernel does."""
    scores = torch.matmul(q, k.transpose(2, 3)) * scale
    if allow is not None:
        scores = scores.masked_fill(~allow, torch.finfo(scores.dtype).min)
    w = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(w, v), w
