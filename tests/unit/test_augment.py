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
from speech_proactive.training.augment import (
    AugmentConfig,
    augment,
    background_noise,
    example_rng,
    lead_quiet,
    room_echo,
)
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


# --- trailing quiet, level, echo, background noise ---------------------------------------------------------------

SPEECH = np.random.default_rng(2).uniform(-0.3, 0.3, 16000).astype(np.float32)


def test_a_lead_quiet_only_config_draws_exactly_as_before():
    """Older configs (leading quiet only) must train exactly as they did: `augment` adds no draws for them."""
    for i in range(20):
        np.testing.assert_array_equal(
            augment(SPEECH, ALWAYS, example_rng(1, 2, i)), lead_quiet(SPEECH, ALWAYS, example_rng(1, 2, i))
        )


def test_trailing_quiet_goes_after_the_untouched_speech():
    cfg = AugmentConfig(trail_quiet_p=1.0, lead_quiet_max_ms=500.0)
    lengths = set()
    for i in range(20):
        out = augment(SPEECH, cfg, example_rng(0, 0, i))
        np.testing.assert_array_equal(out[: SPEECH.size], SPEECH)
        assert SPEECH.size <= out.size <= SPEECH.size + audio.ms_to_samples(500)
        lengths.add(out.size)
    assert len(lengths) > 10


def test_level_echo_and_noise_keep_the_length_and_do_what_they_say():
    rng = np.random.default_rng(0)
    wet = room_echo(SPEECH, 400.0, rng)
    assert wet.size == SPEECH.size and np.isclose(np.abs(wet).max(), np.abs(SPEECH).max(), rtol=1e-5)
    click = np.zeros(16000, np.float32)
    click[100] = 0.5
    tail = room_echo(click, 300.0, np.random.default_rng(1))
    assert np.argmax(np.abs(tail)) == 100, "the direct sound stays the loudest"
    energy = lambda x: float(np.sum(x.astype(np.float64) ** 2))  # noqa: E731
    assert energy(tail[100 + 800 : 100 + 1600]) > 100 * energy(tail[100 + 4000 : 100 + 4800]), "the echo decays"
    for snr_db in (10.0, 30.0):
        noisy = background_noise(SPEECH, snr_db, np.random.default_rng(3))
        measured = 10 * np.log10(energy(SPEECH) / energy(noisy - SPEECH))
        assert noisy.size == SPEECH.size and abs(measured - snr_db) < 0.01
    gains = set()
    for i in range(30):
        out = augment(SPEECH, AugmentConfig(gain_db_max=6.0), example_rng(0, 0, i))
        ratio_db = 20 * np.log10(np.abs(out).max() / np.abs(SPEECH).max())
        assert -6.01 <= ratio_db <= 6.01
        gains.add(round(ratio_db, 2))
    assert len(gains) > 20
    with pytest.raises(ValueError, match="augment"):
        AugmentConfig(snr_db_min=40, snr_db_max=10)
    with pytest.raises(ValueError, match="reverb_p"):
        AugmentConfig(reverb_p=2.0)
