"""Training switches beyond the loss: LoRA on the LLM (peft) and TensorBoard logging, on real tiny runs."""

import json

import pytest
import torch
from helpers import losses, tiny_cfg, tiny_corpus

from speech_proactive.data.manifest import read_manifest
from speech_proactive.model.bundle import load_model
from speech_proactive.model.lora import LORA_WEIGHTS, has_lora
from speech_proactive.training import dataset
from speech_proactive.training.config import from_dict
from speech_proactive.training.loop import checkpoints, new_model, set_input_stats, train

LORA = {"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"]}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("corpus"))


def initial_model(cfg, manifest):
    torch.manual_seed(cfg.seed)  # the model train() starts from
    m = read_manifest(manifest)
    model = new_model(cfg, [t for u in m.rows for t in (u.src_text, u.tgt_text)])
    set_input_stats(model, dataset.items([m], cfg.tasks), cfg.seed)
    return model


def test_lora_trains_only_low_rank_matrices_in_the_llm_and_resumes_exactly(manifest, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    train(tiny_cfg(manifest, straight, lora=LORA))
    train(tiny_cfg(manifest, killed, lora=LORA), stop_at_step=3)
    train(tiny_cfg(manifest, killed, lora=LORA), resume_run=True)
    a, b = losses(straight), losses(killed)
    assert a[4] == pytest.approx(b[4], rel=1e-5) and a[3] == pytest.approx(b[3], rel=1e-5)

    ckpt = checkpoints(straight)[-1]
    assert json.loads((ckpt / "bundle.json").read_text())["lora"]["r"] == 4
    assert (ckpt / LORA_WEIGHTS).is_file()
    before = initial_model(tiny_cfg(manifest, straight), manifest).state_dict()
    kept = load_model(ckpt, merge_lora=False)
    assert kept.lora is not None and has_lora(kept.lm.model)
    llm_own = {
        k.replace(".base_layer.", "."): v
        for k, v in kept.state_dict().items()
        if k.startswith("lm.") and ".lora_" not in k
    }
    assert llm_own.keys() == {k for k in before if k.startswith("lm.")}
    for k, v in llm_own.items():  # the LLM's own weights never move under LoRA
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, before[k]) for k, v in kept.state_dict().items() if k.startswith("encoder."))
    lora_b = [v for k, v in kept.state_dict().items() if ".lora_B." in k]
    assert lora_b and any(bool(v.abs().sum() > 0) for v in lora_b)  # B starts at zero: it trained


def test_merged_lora_bundle_computes_what_the_unmerged_one_does(manifest, tmp_path):
    train(tiny_cfg(manifest, tmp_path / "run", lora=LORA, max_steps=2, save_every=2))
    kept = load_model(tmp_path / "run" / "bundle", merge_lora=False)
    merged = load_model(tmp_path / "run" / "bundle")
    assert merged.lora is None and not has_lora(merged.lm.model)
    ids = torch.tensor([[3, 17, 42, 8, 99]])
    with torch.no_grad():
        want = kept.lm.model(input_ids=ids).logits
        got = merged.lm.model(input_ids=ids).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert not torch.equal(want, initial_model(tiny_cfg(manifest, tmp_path), manifest).lm.model(input_ids=ids).logits)


def test_lora_settings_that_cannot_work_are_refused(manifest, tmp_path):
    with pytest.raises(ValueError, match="contradict"):
        tiny_cfg(manifest, tmp_path, lora=LORA, freeze=["llm"])
    with pytest.raises(ValueError, match="lora.r"):
        from_dict({"lora": {"r": -1}})
    with pytest.raises(ValueError, match="no_such_proj"):
        train(tiny_cfg(manifest, tmp_path / "bad", lora={"r": 2, "targets": ["no_such_proj"]}))


def test_tensorboard_events_hold_the_logged_losses(manifest, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    train(tiny_cfg(manifest, out, tensorboard=True))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    logged = losses(out)
    read = {e.step: e.value for e in events.Scalars("train/loss")}
    assert read.keys() == logged.keys()
    for step, value in logged.items():
        assert read[step] == pytest.approx(value, rel=1e-6)
    assert [e.step for e in events.Scalars("dev/bleu")] == [4]


def test_bf16_training_learns_and_resumes_where_the_cpu_has_bf16_kernels(manifest, tmp_path, capsys):
    """The recipe trains in bf16 autocast; where oneDNN has no bf16 kernels it must say so and train in fp32."""
    from speech_proactive.training.loop import usable_precision

    fast = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    cfg = tiny_cfg(manifest, tmp_path / "straight", precision="bf16")
    assert usable_precision(cfg, torch.device("cpu")).precision == ("bf16" if fast else "fp32")
    train(cfg)
    assert ("training in fp32" in capsys.readouterr().err) != fast
    killed = tmp_path / "killed"
    train(tiny_cfg(manifest, killed, precision="bf16"), stop_at_step=3)
    train(tiny_cfg(manifest, killed, precision="bf16"), resume_run=True)
    a, b = losses(tmp_path / "straight"), losses(killed)
    assert a[4] == pytest.approx(b[4], rel=1e-5) and a[4] < a[1]


def test_encoder_top_layers_trains_only_the_top_of_the_encoder(manifest, tmp_path):
    """Fine-tuning a pretrained encoder to the block-causal mask for less: the convolutions and lower blocks keep
    their weights, the top block and the final norm move, and so does everything after the encoder."""
    enc = {"n_audio_state": 32, "n_audio_head": 2, "n_audio_layer": 2}
    model_cfg = {"encoder": enc, "adapter": {"hidden": 32}}
    cfg = tiny_cfg(manifest, tmp_path / "run", encoder_top_layers=1, model=model_cfg, max_steps=2, save_every=2)
    before = initial_model(cfg, manifest).encoder.state_dict()
    train(cfg)
    after = load_model(tmp_path / "run" / "bundle").encoder.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert not {k for k in moved if k.startswith(("conv", "blocks.0.", "positional"))}, moved
    assert {"blocks.1.attn.query.weight", "blocks.1.mlp.0.weight", "ln_post.weight"} <= moved
    with pytest.raises(ValueError, match="contradict"):
        tiny_cfg(manifest, tmp_path, encoder_top_layers=1, freeze=["encoder"])
    with pytest.raises(ValueError, match="has 2 blocks"):
        train(tiny_cfg(manifest, tmp_path / "bad", encoder_top_layers=3, model=model_cfg))
