"""Leading-quiet augmentation: what it prepends, that its draws depend on (seed, step, index) only, and that a
killed and resumed run with it trains exactly as a straight one."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import losses, tiny_cfg, tiny_corpus

from speech_proactive import audio
from speech_proactive.data.manifest import read_manifest
from speech_proactive.model.bundle import read_manifest as read_bundle
from speech_proactive.training import dataset
from speech_proactive.training.augment import AugmentConfig, example_rng, lead_quiet
from speech_proactive.training.config import load_train_config
from speech_proactive.training.loop import new_model, train

ALWAYS = AugmentConfig(lead_quiet_p=1.0, lead_quiet_max_ms=800.0)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("corpus"))


def test_quiet_goes_before_the_untouched_speech():
    speech = np.random.default_rng(1).uniform(-0.5, 0.5, 8000).astype(np.float32)
    kinds = set()
    for i in range(40):
        out = lead_quiet(speech, ALWAYS, example_rng(0, 0, i))
        n = len(out) - len(speech)
        assert 0 <= n <= audio.ms_to_samples(800)
        np.testing.assert_array_equal(out[n:], speech)
        quiet = out[:n].astype(np.float64)
        if n > 160 and quiet.any():
            dbfs = 20 * np.log10(np.sqrt(np.mean(quiet**2)))
            assert ALWAYS.noise_dbfs_min - 3 <= dbfs <= ALWAYS.noise_dbfs_max + 3
            kinds.add("noise")
        elif n > 160:
            kinds.add("silence")
    assert kinds == {"noise", "silence"}, "both kinds of quiet are drawn"


def test_draws_depend_on_seed_step_and_index_only():
    speech = np.ones(1600, np.float32)
    same = [lead_quiet(speech, ALWAYS, example_rng(3, 7, 5)) for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    lengths = {len(lead_quiet(speech, ALWAYS, example_rng(3, 7, i))) for i in range(10)}
    assert len(lengths) > 5
    off = AugmentConfig()
    assert not off.enabled and lead_quiet(speech, off, example_rng(0, 0, 0)) is speech
    some = AugmentConfig(lead_quiet_p=0.5)
    unchanged = sum(len(lead_quiet(speech, some, example_rng(0, 0, i))) == len(speech) for i in range(200))
    assert 70 < unchanged < 130


def test_bad_settings_are_refused_and_yaml_overrides_reach_them(tmp_path):
    for bad in ({"lead_quiet_p": 1.5}, {"lead_quiet_max_ms": -1}, {"noise_dbfs_min": -40, "noise_dbfs_max": -60}):
        with pytest.raises(ValueError, match="augment"):
            AugmentConfig(**bad)
    cfg = load_train_config(None, ["augment.lead_quiet_p=0.5", "augment.lead_quiet_max_ms=600"])
    assert cfg.augment == AugmentConfig(lead_quiet_p=0.5, lead_quiet_max_ms=600.0)
    with pytest.raises(ValueError, match="unknown augment option"):
        load_train_config(None, ["augment.lead_silence=1"])


def test_batches_get_longer_audio_reproducibly(manifest, tmp_path):
    cfg = tiny_cfg(manifest, tmp_path)
    items = dataset.items([read_manifest(manifest)], cfg.tasks)
    model = new_model(cfg, [i.text for i in items])
    plain = dataset.make_batch(model, items, [0, 1])
    a, b = (dataset.make_batch(model, items, [0, 1], ALWAYS, seed=0, step=4) for _ in range(2))
    assert a.mel.shape[-1] >= plain.mel.shape[-1]
    assert (a.n_mel_frames > plain.n_mel_frames).any() and (a.n_mel_frames >= plain.n_mel_frames).all()
    assert a.mel.equal(b.mel)


def test_an_augmented_run_resumes_exactly(manifest, tmp_path):
    aug = {"augment": {"lead_quiet_p": 1.0, "lead_quiet_max_ms": 500.0}}
    train(tiny_cfg(manifest, tmp_path / "straight", **aug))
    train(tiny_cfg(manifest, tmp_path / "killed", **aug), stop_at_step=3)
    train(tiny_cfg(manifest, tmp_path / "killed", **aug), resume_run=True)
    assert losses(tmp_path / "killed") == losses(tmp_path / "straight")
    assert losses(tmp_path / "straight") != losses_without_augment(manifest, tmp_path)
    meta = read_bundle(tmp_path / "straight" / "bundle")["meta"]
    assert meta["train_config"]["augment"]["lead_quiet_p"] == 1.0, "the bundle says how it was trained"


def losses_without_augment(manifest, tmp_path):
    train(tiny_cfg(manifest, tmp_path / "plain"))
    return losses(tmp_path / "plain")


def test_a_trained_bundle_without_leading_quiet_is_flagged():
    from speech_proactive.training.augment import quiet_warning

    trained = {"trained": True, "train_config": {"augment": {"lead_quiet_p": 0.0}}}
    assert "augment.lead_quiet_p" in quiet_warning(trained)
    assert quiet_warning({"trained": True, "train_config": {}}) is not None  # before augment.py existed
    assert quiet_warning({"trained": True, "train_config": {"augment": {"lead_quiet_p": 0.5}}}) is None
    assert quiet_warning({"trained": False}) is None  # random weights: nonsense anyway, said elsewhere
    assert quiet_warning({}) is None
