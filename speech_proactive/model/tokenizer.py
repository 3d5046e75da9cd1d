"""Tokenizers: a byte-level BPE trained offline on the training text, or a pretrained LLM's own tokenizer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
TASK_TOKENS = ("<st>", "<asr>", "<qa>")  # prompts start with one, so a task is never split into pieces


def train_bpe(texts: Iterable[str], vocab_size: int = 2000) -> PreTrainedTokenizerFast:
    """Byte-level BPE (no unknown characters possible) trained on `texts`, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, UNK, *TASK_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        additional_special_tokens=list(TASK_TOKENS),
    )


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """The folder's own tokenizer. One we trained (a plain `tokenizers` BPE) is loaded as exactly that:
    AutoTokenizer would let a model config.json in the same folder swap in its family's tokenizer class."""
    import json

    path = Path(path)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"{path}: no tokenizer.json or tokenizer_config.json (not a tokenizer folder)")
    config = path / "tokenizer_config.json"
    cls = json.loads(config.read_text()).get("tokenizer_class") if config.is_file() else None
    if cls in ("TokenizersBackend", "PreTrainedTokenizerFast") and (path / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def start_id(tok: PreTrainedTokenizerBase) -> int:
    """The token every target starts from (its outputs predict the first target token)."""
    tid = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if tid is None:
        raise ValueError("tokenizer has neither a BOS nor an EOS token; cannot mark where the output starts")
    return int(tid)


def eos_id(tok: PreTrainedTokenizerBase) -> int:
    if tok.eos_token_id is None:
        raise ValueError("tokenizer has no EOS token; cannot tell when an output ends")
    return int(tok.eos_token_id)


WORD_START_MARKS = ("Ġ", "▁")  # byte-level BPE (GPT-2, Qwen) and SentencePiece mark a leading space so


def word_starts(tok: PreTrainedTokenizerBase) -> list[bool]:
    """For each token id: does it begin a new word? Special tokens count as boundaries."""
    special = set(tok.all_special_ids)
    pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
    return [i in special or (p is not None and p.startswith(WORD_START_MARKS)) for i, p in enumerate(pieces)]
