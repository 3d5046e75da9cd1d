"""The one training loop.

    python -m speech_proactive.train CONFIG.yaml [key=value ...] [--resume]

Loss L = L_batch + L_MSLM + lambda L_SPSD (losses.py), every term switchable (`loss.mslm=false`, ...).
Checkpoints are bundles with a train_state.pt, written atomically every `save_every` steps; `--resume`
continues from the newest one with the same data order, optimizer and random state. The best checkpoint by
dev BLEU becomes `OUT/bundle`, what the translator, the evaluation and the live demo load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from speech_proactive.data.manifest import read_manifest
from speech_proactive.model import lora
from speech_proactive.model.build import build_model
from speech_proactive.model.bundle import TRAIN_STATE, load_model, replace_dir, save_bundle
from speech_proactive.model.speech_llm import SpeechLLM
from speech_proactive.model.trained_tasks import TaskKey, keys_of, to_meta
from speech_proactive.training import dataset, distributed
from speech_proactive.training.config import TrainConfig, load_train_config
from speech_proactive.training.dev_eval import DevResult, evaluate_dev
from speech_proactive.training.losses import LossTerms, compute_losses, ctc_only, text_only

FREEZABLE = {"encoder": "encoder", "adapter": "adapter", "llm": "lm"}  # `freeze:` names -> SpeechLLM parts


@dataclass
class RunState:
    step: int = 0
    best_bleu: float = -1.0  # the best dev score: BLEU, or answer F1 for a QA-only dev set
    best_step: int = -1


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 10%."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def checkpoints(out: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a temporary folder left by a kill is not one)."""
    done = [
        p
        for p in (out / "checkpoints").glob("step-*")
        if (p / "bundle.json").is_file() and (p / TRAIN_STATE).is_file() and p.name[5:].isdigit()
    ]
    return sorted(done, key=lambda p: int(p.name[5:]))


def new_model(cfg: TrainConfig, train_texts: list[str]) -> SpeechLLM:
    return build_model(
        cfg.model,
        whisper_file=cfg.whisper,
        llm_dir=cfg.llm_dir,
        texts=train_texts,
        vocab_size=cfg.vocab_size,
        llm_size=cfg.llm,
        seed=cfg.seed,
    )


INPUT_STATS_UTTERANCES = 256  # enough for per-channel mean/std to 1%


def set_input_stats(model: SpeechLLM, items: list, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(items), generator=g)[:INPUT_STATS_UTTERANCES].tolist()
    model.encoder.set_input_stats([dataset.make_example(model, items[i]).mel for i in pick])


def save_checkpoint(model, opt, cfg: TrainConfig, run: RunState, out: Path, tasks: list[TaskKey]) -> Path:
    state = {
        "optimizer": opt.state_dict(),
        "step": run.step,
        "best_bleu": run.best_bleu,
        "best_step": run.best_step,
        "torch_rng": torch.get_rng_state(),
    }
    meta = {"trained": True, "step": run.step, "train_config": cfg.to_dict(), "tasks": to_meta(tasks)}
    path = save_bundle(model, out / "checkpoints" / f"step-{run.step:07d}", meta, train_state=state)
    keep = {f"step-{run.best_step:07d}"}
    for old in checkpoints(out)[: -cfg.keep_last]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return path


def train_top_layers(encoder: nn.Module, n: int) -> None:
    """Only the top `n` blocks and the final norm of the encoder keep their gradients."""
    if n > len(encoder.blocks):
        raise ValueError(f"encoder_top_layers={n}, but the encoder has {len(encoder.blocks)} blocks")
    encoder.requires_grad_(False)
    for block in encoder.blocks[-n:]:
        block.requires_grad_(True)
    encoder.ln_post.requires_grad_(True)


def resume(out: Path, cfg: TrainConfig) -> tuple[SpeechLLM, torch.optim.Optimizer, RunState]:
    for partial in (out / "checkpoints").glob("*.tmp-*"):  # a save cut short by a kill: never complete
        shutil.rmtree(partial, ignore_errors=True)
    found = checkpoints(out)
    if not found:
        raise FileNotFoundError(f"--resume: no complete checkpoint in {out / 'checkpoints'}")
    model = load_model(found[-1], merge_lora=False).train()
    state = torch.load(found[-1] / TRAIN_STATE, map_location="cpu", weights_only=False)
    opt = make_optimizer(model, cfg)
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return model, opt, RunState(state["step"], state["best_bleu"], state["best_step"])


def make_optimizer(model: SpeechLLM, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Two groups: the LLM at `llm_lr` (when set), everything else (encoder, adapter, CTC head) at `lr`.
    `scale` is each group's share of the schedule's peak, so lr_at drives both."""
    llm = list(model.lm.parameters())
    ids = {id(p) for p in llm}
    audio = [p for p in model.parameters() if id(p) not in ids]
    llm_scale = (cfg.llm_lr if cfg.llm_lr is not None else cfg.lr) / cfg.lr
    return torch.optim.AdamW(
        [{"params": audio, "scale": 1.0}, {"params": llm, "scale": llm_scale}], lr=cfg.lr, weight_decay=cfg.weight_decay
    )


def batch_at(step: int, n_batches: int, items, cfg: TrainConfig, orders: dict[int, list[list[int]]]) -> list[int]:
    """Indices of the batch at `step`; `orders` caches each epoch's order (computed once, not every step)."""
    epoch, index = divmod(step, n_batches)
    if epoch not in orders:
        orders.clear()
        orders[epoch] = dataset.epoch_order(items, epoch, cfg.seed, cfg.batch_size)
    return orders[epoch][index]


class LossStep(nn.Module):
    """One step's loss as a module, so that DDP can wrap it (the model's parts are called one by one)."""

    def __init__(self, model: SpeechLLM, cfg: TrainConfig):
        super().__init__()
        self.model, self.cfg = model, cfg

    def forward(self, batch, step: int) -> tuple[Tensor, int]:
        """[total, batch, mslm, spsd, ctc] and the number of target tokens per copy."""
        gen = torch.Generator().manual_seed(self.cfg.seed * 7919 + step)  # schedules reproducible on resume
        device = self.model.device.type
        with torch.autocast(device, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            terms = self._terms(batch, step, gen)
        return torch.stack([terms.total, terms.batch, terms.mslm, terms.spsd, terms.ctc]).float(), terms.n_tokens

    def _terms(self, batch, step: int, gen: torch.Generator) -> LossTerms:
        if step < self.cfg.text_warmup_steps:  # the LLM on text and the audio side on CTC: disjoint parameters
            text = text_only(self.model, batch)
            if not self.cfg.text_warmup_ctc:
                return text
            audio = ctc_only(self.model, batch)
            return LossTerms(text.total + audio.total, text.batch, text.mslm, text.spsd, audio.ctc, text.n_tokens)
        if step < self.cfg.ctc_warmup_steps:
            return ctc_only(self.model, batch)
        return compute_losses(self.model, batch, self.cfg.loss, gen)


def usable_precision(cfg: TrainConfig, device: torch.device) -> TrainConfig:
    """bf16 on a CPU whose oneDNN has no bf16 kernels (they need AVX-512) would be emulated, several times
    slower than fp32: say so and train in fp32 there."""
    if cfg.precision != "bf16" or device.type != "cpu" or torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return cfg
    print(
        "warning: precision=bf16 asked for, but this CPU has no bf16 matrix kernels (AVX-512): training in fp32",
        file=sys.stderr,
    )
    return dataclasses.replace(cfg, precision="fp32")


def prepare(cfg: TrainConfig, resume_run: bool, items: list, texts: list[str], dist: distributed.Dist):
    out = Path(cfg.out)
    if resume_run:
        model, opt, run = resume(out, cfg)
    else:
        torch.manual_seed(cfg.seed)
        model, run = new_model(cfg, texts).train(), RunState()
        if cfg.whisper is None:  # a pretrained Whisper brings its own input scaling
            set_input_stats(model, items, cfg.seed)
        opt = None
    for part in cfg.freeze:
        getattr(model, FREEZABLE[part]).requires_grad_(False)
    if cfg.encoder_top_layers:
        train_top_layers(model.encoder, cfg.encoder_top_layers)
    lora.attach(model, cfg.lora)  # after freezing: it freezes the LLM's own weights itself
    model.to(dist.device)
    opt = opt or make_optimizer(model, cfg)
    for state in opt.state.values():  # a resumed optimizer's moments were loaded on the CPU
        for k, v in state.items():
            if torch.is_tensor(v) and v.dim() > 0:
                state[k] = v.to(dist.device)
    return model, opt, run


def train(cfg: TrainConfig, resume_run: bool = False, stop_at_step: int | None = None) -> RunState:
    """Train to cfg.max_steps (or stop early at `stop_at_step`, as a kill would, for tests)."""
    dist = distributed.setup(cfg.device)
    cfg = usable_precision(cfg, dist.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_m = [read_manifest(p) for p in cfg.train]
    dev_m = [read_manifest(p) for p in cfg.dev]
    items = dataset.items(train_m, cfg.tasks)
    trained = keys_of(i.task for i in items)
    texts = [t for m in train_m for u in m.rows for t in (u.src_text, u.tgt_text, u.question) if t]
    model, opt, run = prepare(cfg, resume_run, items, texts, dist)
    step_fn = distributed.wrap(LossStep(model, cfg), dist)
    n_batches = math.ceil(len(items) / cfg.batch_size)
    orders: dict[int, list[list[int]]] = {}
    sinks = Sinks.open(cfg, out, run.step, dist.main)
    while run.step < min(cfg.max_steps, stop_at_step or cfg.max_steps):
        t0 = time.perf_counter()
        indices = dist.shard(batch_at(run.step, n_batches, items, cfg, orders))
        batch = dataset.make_batch(model, items, indices, cfg.augment, cfg.seed, run.step).to(dist.device)
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, run.step) * group.get("scale", 1.0)
        values, n_tokens = step_fn(batch, run.step)
        opt.zero_grad(set_to_none=True)
        values[0].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        run.step += 1
        values = values.detach().clone()
        if dist.world > 1:  # log the mean over ranks
            torch.distributed.all_reduce(values)
            values /= dist.world
        if dist.main:
            sinks.step(run, cfg, values, n_tokens * dist.world / (time.perf_counter() - t0))
            if _dev_due(cfg, run.step):
                sinks.dev(run, evaluate_dev(model, dev_m, cfg))
            if run.step % cfg.save_every == 0 or run.step == cfg.max_steps:
                save_checkpoint(model, opt, cfg, run, out, trained)
            sinks.flush()
        dist.barrier()
    sinks.close()
    if run.step == cfg.max_steps and dist.main:
        finish(out, run)
    distributed.teardown(dist)
    return run


def _dev_due(cfg: TrainConfig, step: int) -> bool:
    """Dev decoding listens to speech: before the warm-ups end the model has not heard any, so skip it there."""
    warm = max(cfg.text_warmup_steps, cfg.ctc_warmup_steps)
    return step == cfg.max_steps or (step % cfg.eval_every == 0 and step > warm)


@dataclass
class Sinks:
    """Where a run's numbers go: log.jsonl (always), the progress bar, TensorBoard (when asked for)."""

    log: object | None
    bar: tqdm
    tb: object | None = None

    @classmethod
    def open(cls, cfg: TrainConfig, out: Path, step: int, main: bool) -> Sinks:
        # in a log file (no TTY) a bar redrawn 10 times a second is noise: update it every 30 s there
        bar = tqdm(
            total=cfg.max_steps,
            initial=step,
            desc="train",
            dynamic_ncols=True,
            disable=not main,
            mininterval=0.1 if sys.stderr.isatty() else 30.0,
        )
        if not main:
            return cls(None, bar)
        return cls(open(out / "log.jsonl", "a"), bar, _tensorboard(out) if cfg.tensorboard else None)

    def step(self, run: RunState, cfg: TrainConfig, values: Tensor, tok_s: float) -> None:
        names = ("loss", "batch", "mslm", "spsd", "ctc")
        record = {
            "step": run.step,
            **{k: float(v) for k, v in zip(names, values)},
            "lr": lr_at(cfg, run.step - 1),
            "tok_s": round(tok_s, 1),
        }
        self._write(record, "train")
        # refresh=False: set_postfix redraws by default, which defeats mininterval (a line per step in logs)
        self.bar.set_postfix({k: f"{record[k]:.3f}" for k in names} | {"tok_s": f"{tok_s:.0f}"}, refresh=False)
        self.bar.update(1)

    def dev(self, run: RunState, dev: DevResult) -> None:
        self._write({"step": run.step, "dev_loss": dev.loss, f"dev_{dev.metric}": dev.score, "dev_n": dev.n}, "dev")
        self.bar.write(
            f"step {run.step}: dev loss {dev.loss:.3f}, dev {dev.metric.upper()} {dev.score:.1f} on {dev.n} items"
        )
        if dev.score > run.best_bleu:
            run.best_bleu, run.best_step = dev.score, run.step

    def _write(self, record: dict, group: str) -> None:
        self.log.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step":
                    self.tb.add_scalar(f"{group}/{k.removeprefix('dev_')}", v, record["step"])

    def flush(self) -> None:
        self.log.flush()
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        self.bar.close()
        for sink in (self.log, self.tb):
            if sink is not None:
                sink.close()


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise RuntimeError("tensorboard=true needs the tensorboard package (pip install tensorboard)") from e
    return SummaryWriter(str(out / "tensorboard"))


def finish(out: Path, run: RunState) -> None:
    """Copy the best checkpoint to OUT/bundle (atomically) and plot the losses."""
    best = out / "checkpoints" / f"step-{run.best_step:07d}"
    src = best if best.is_dir() else checkpoints(out)[-1]
    tmp = out / "bundle.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(TRAIN_STATE))
    replace_dir(tmp, out / "bundle")
    from speech_proactive.evaluation.plots import plot_losses

    plot_losses(out / "log.jsonl", out / "loss.png")
    print(f"best dev score {run.best_bleu:.1f} at step {run.best_step}; model: {out / 'bundle'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m speech_proactive.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", help="recipe YAML file")
    p.add_argument("overrides", nargs="*", help="key=value, e.g. loss.spsd=false max_steps=100")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT")
    args = p.parse_args(argv)
    try:
        cfg = load_train_config(args.config, args.overrides)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    train(cfg, args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
