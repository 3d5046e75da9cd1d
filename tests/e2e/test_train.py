"""The training loop end to end on a tiny manifest of real espeak-ng speech: it learns, checkpoints, resumes."""

import json

import pytest
import torch
from helpers import PAIRS, losses, tiny_cfg, tiny_corpus

from speech_proactive.data.manifest import read_manifest
from speech_proactive.model.bundle import load_model
from speech_proactive.training import dataset
from speech_proactive.training.config import from_dict, load_train_config
from speech_proactive.training.loop import checkpoints, new_model, set_input_stats, train


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("corpus"))


def test_train_checkpoint_and_resume_reproduce_the_same_losses(manifest, tmp_path):
    straight = tmp_path / "straight"
    train(tiny_cfg(manifest, straight))
    killed = tmp_path / "killed"
    train(tiny_cfg(manifest, killed), stop_at_step=3)  # dies after step 3; last checkpoint is step 2
    assert [p.name for p in checkpoints(killed)] == ["step-0000002"]
    train(tiny_cfg(manifest, killed), resume_run=True)
    a, b = losses(straight), losses(killed)
    assert a[4] == pytest.approx(b[4], rel=1e-5) and a[3] == pytest.approx(b[3], rel=1e-5)
    assert a[4] < a[1]  # it learns something on 4 utterances
    model = load_model(straight / "bundle")  # the final bundle loads through the real loader
    meta = json.loads((straight / "bundle" / "bundle.json").read_text())["meta"]
    assert meta["step"] == 4
    assert meta["tasks"] == [
        {"task": "asr", "src_lang": "en", "tgt_lang": "en"},  # what the bundle may be asked
        {"task": "st", "src_lang": "en", "tgt_lang": "de"},
    ]
    assert model.cfg.encoder.n_audio_layer == 1
    assert (straight / "loss.png").stat().st_size > 1000
    assert len(checkpoints(straight)) >= 1 and not list((straight / "checkpoints").glob("*.tmp-*"))


def test_config_overrides_and_errors(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("max_steps: 10\nloss:\n  spsd: true\n")
    cfg = load_train_config(y, ["loss.spsd=false", "loss.spsd_lambda=0.5", "train=a.jsonl"])
    assert cfg.max_steps == 10 and cfg.loss.spsd is False and cfg.loss.spsd_lambda == 0.5 and cfg.train == ("a.jsonl",)
    with pytest.raises(ValueError, match="unknown training option"):
        load_train_config(y, ["max_stpes=3"])
    with pytest.raises(ValueError, match="unknown loss option"):
        load_train_config(y, ["loss.lambda=3"])
    # YAML reads 3e-3 as a string: numbers are read as the field's type, and wrong types are named
    cfg = load_train_config(y, ["lr=3e-3", "model.encoder.n_audio_state=192.0"])
    assert cfg.lr == 0.003 and cfg.model.encoder.n_audio_state == 192
    for bad, what in (
        ("lr=fast", "TrainConfig.lr"),
        ("max_steps=1.5", "max_steps"),
        ("loss.mslm=3", "mslm"),
        ("model.encoder.n_audio_layer=two", "n_audio_layer"),
    ):
        with pytest.raises(ValueError, match=what):
            load_train_config(y, [bad])


def test_manifest_reads_back(manifest):
    assert len(read_manifest(manifest).rows) == len(PAIRS)


def test_sigkill_mid_run_loses_only_steps_since_the_last_checkpoint(manifest, tmp_path):
    """A real kill -9 while training: every checkpoint on disk is complete and loads, and --resume finishes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml
    from helpers import REPO

    out = tmp_path / "killed"
    cfg = tiny_cfg(manifest, out, max_steps=100000, save_every=2, keep_last=3, eval_every=100000).to_dict()
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "speech_proactive.train", str(cfg_file)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while len(checkpoints(out)) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert len(checkpoints(out)) >= 2, "training did not write checkpoints"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    found = checkpoints(out)
    assert found and all(load_model(p) is not None for p in found)
    last_step = int(found[-1].name[5:])
    logged = max(losses(out))
    assert logged - last_step < 2 + 2  # at most the steps since the last checkpoint (save_every=2) are lost
    done = subprocess.run(
        cmd + ["max_steps=" + str(last_step + 2), "--resume"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "bundle" / "bundle.json").is_file()
    assert not list((out / "checkpoints").glob("*.tmp-*"))  # a save cut short by the kill was cleaned up


def test_two_process_ddp_step_equals_the_averaged_single_process_step(manifest, tmp_path):
    """`torchrun --nproc_per_node 2` (gloo on CPU): each rank takes half of the global batch; the step equals
    one process stepping on the mean of the two halves' losses."""
    import os
    import subprocess
    import sys

    import torch
    import yaml

    from speech_proactive.training import dataset
    from speech_proactive.training.loop import LossStep, batch_at, lr_at, make_optimizer, new_model, set_input_stats

    raw = {
        "train": [str(manifest)],
        "dev": [str(manifest)],
        "out": str(tmp_path / "ddp"),
        "batch_size": 4,
        "max_steps": 1,
        "lr": 3e-3,
        "warmup_steps": 1,
        "eval_every": 100,
        "eval_n": 1,
        "save_every": 1,
        "vocab_size": 300,
        "loss": {"ctc_weight": 0.5},  # every parameter gets a gradient
        "model": {"encoder": {"n_audio_state": 32, "n_audio_head": 2, "n_audio_layer": 1}, "adapter": {"hidden": 32}},
        "llm": {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
        },
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [
            torchrun,
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            "-m",
            "speech_proactive.train",
            str(tmp_path / "c.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    trained = load_model(tmp_path / "ddp" / "checkpoints" / "step-0000001")

    cfg = from_dict(raw)
    items = dataset.items([read_manifest(manifest)], cfg.tasks)
    torch.manual_seed(cfg.seed)
    model = new_model(cfg, [t for u in read_manifest(manifest).rows for t in (u.src_text, u.tgt_text)]).train()
    set_input_stats(model, items, cfg.seed)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(model, cfg)
    for group in opt.param_groups:
        group["lr"] = lr_at(cfg, 0) * group["scale"]
    indices = batch_at(0, 1, items, cfg, {})
    step = LossStep(model, cfg)
    halves = [step(dataset.make_batch(model, items, indices[r::2]), 0)[0][0] for r in range(2)]
    ((halves[0] + halves[1]) / 2).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    ours, theirs = model.state_dict(), trained.state_dict()
    assert any(not torch.equal(before[k], theirs[k]) for k in ours), "the DDP run did not change the weights"
    for k in ours:
        torch.testing.assert_close(theirs[k], ours[k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.parametrize("name", ["st/default", "st/fillets", "st/ding", "st/gpu", "st/real", "qa/default"])
def test_every_recipe_config_loads(name):
    """A typo in a recipe's YAML is an error here, not 20 minutes into a run."""
    from helpers import REPO

    cfg = load_train_config(REPO / "recipes" / f"{name}.yaml")
    assert cfg.train and cfg.dev and cfg.max_steps > 0


@pytest.mark.parametrize("with_ctc", [True, False])
def test_text_warmup_trains_the_audio_side_only_with_ctc(manifest, tmp_path, with_ctc):
    """text_warmup_ctc=false: warm-up steps move the LLM alone; the encoder and adapter stay as initialised."""
    cfg = tiny_cfg(
        manifest,
        tmp_path / "run",
        max_steps=1,
        text_warmup_steps=1,
        text_warmup_ctc=with_ctc,
        eval_every=100,
        save_every=1,
        loss={"ctc_weight": 1.0},
    )
    train(cfg)
    torch.manual_seed(cfg.seed)  # the initial model again, as train() built it
    m = read_manifest(manifest)
    before = new_model(cfg, [t for u in m.rows for t in (u.src_text, u.tgt_text)])
    set_input_stats(before, dataset.items([m], cfg.tasks), cfg.seed)
    after = load_model(tmp_path / "run" / "bundle").state_dict()
    moved = {name: not torch.equal(p, after[name]) for name, p in before.state_dict().items()}
    assert any(v for k, v in moved.items() if k.startswith("lm."))
    audio_moved = any(v for k, v in moved.items() if k.startswith(("encoder.", "adapter.")) and "mel_" not in k)
    assert audio_moved == with_ctc


def test_dev_items_alternate_between_manifests():
    """The dev BLEU that picks the best checkpoint must see every direction, not the first manifest alone."""
    from types import SimpleNamespace

    from speech_proactive.training.dev_eval import balanced

    a, b = SimpleNamespace(name="en-de"), SimpleNamespace(name="de-en")
    items = [SimpleNamespace(manifest=a, i=i) for i in range(5)] + [SimpleNamespace(manifest=b, i=i) for i in range(2)]
    picked = balanced(items, 5)
    assert [(x.manifest.name, x.i) for x in picked] == [
        ("en-de", 0),
        ("de-en", 0),
        ("en-de", 1),
        ("de-en", 1),
        ("en-de", 2),
    ]
    assert len(balanced(items, 100)) == 7
