"""Assemble a model from parts (random or pretrained) and save it as a bundle.

    python -m speech_proactive.model.build OUT_BUNDLE [--whisper FILE.pt|DIR] [--llm HF_DIR] [--text FILE ...]

Without `--whisper` the encoder is random with the default shape; without `--llm` the LLM is a random
Qwen2-style model and the tokenizer is a byte-level BPE trained on the `--text` files (one sentence per
line). A random model prints nonsense: it exists so that every tool runs before training does.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path

import torch

from speech_proactive.config import ModelConfig
from speech_proactive.model.bundle import load_llm, load_strict, save_bundle
from speech_proactive.model.speech_llm import LLMSize, SpeechLLM, random_llm
from speech_proactive.model.tokenizer import load_tokenizer, train_bpe
from speech_proactive.model.whisper_weights import load_whisper_encoder

DEFAULT_TEXT = Path(__file__).resolve().parents[2] / "audio_samples"


def build_model(
    cfg: ModelConfig = ModelConfig(),
    *,
    whisper_file: str | Path | None = None,
    llm_dir: str | Path | None = None,
    texts: Iterable[str] = (),
    vocab_size: int = 2000,
    llm_size: LLMSize = LLMSize(),
    seed: int = 0,
) -> SpeechLLM:
    """Pretrained parts where given, random weights elsewhere (seeded)."""
    whisper_state = None
    if whisper_file is not None:
        enc_cfg, whisper_state = load_whisper_encoder(whisper_file, cfg.encoder.chunk_ms)
        enc_cfg = dataclasses.replace(enc_cfg, left_context_chunks=cfg.encoder.left_context_chunks)
        cfg = dataclasses.replace(
            cfg, encoder=enc_cfg, frontend=dataclasses.replace(cfg.frontend, n_mels=enc_cfg.n_mels)
        )
    if llm_dir is not None:
        llm, tok = load_llm(llm_dir), load_tokenizer(llm_dir)
    else:
        tok = train_bpe(texts, vocab_size)
        llm = random_llm(llm_size, len(tok), seed)
    torch.manual_seed(seed)
    model = SpeechLLM(cfg, llm, tok)
    if whisper_state is not None:
        load_strict(model.encoder, whisper_state, f"{whisper_file} (encoder)")
    return model


def read_lines(files: Iterable[Path]) -> list[str]:
    lines = []
    for f in files:
        lines += [ln.strip() for ln in Path(f).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.model.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", type=Path, help="bundle folder to write")
    p.add_argument(
        "--whisper",
        type=Path,
        help="Whisper weights for the encoder: an openai-whisper .pt file, a Hugging Face Whisper folder or a "
        "CTranslate2 (faster-whisper) folder (model.bin, or model.bin split in parts)",
    )
    p.add_argument("--llm", type=Path, help="Hugging Face causal LM folder (with its tokenizer)")
    p.add_argument("--text", type=Path, nargs="*", help="text files to train the BPE tokenizer on")
    p.add_argument("--vocab-size", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    texts = read_lines(args.text or sorted(DEFAULT_TEXT.glob("*.txt")))
    if args.llm is None and not texts:
        p.error("no text to train a tokenizer on: pass --text FILE or --llm DIR")
    model = build_model(
        whisper_file=args.whisper, llm_dir=args.llm, texts=texts, vocab_size=args.vocab_size, seed=args.seed
    )
    pretrained = {"whisper": str(args.whisper) if args.whisper else None, "llm": str(args.llm) if args.llm else None}
    save_bundle(model, args.out, meta={"trained": False, "pretrained_parts": pretrained, "seed": args.seed})
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out} ({n_params / 1e6:.1f}M parameters, untrained: its output is nonsense)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
