"""espeak-ng synthesis with word end times: format, accuracy, determinism, resuming, voices, ideal read points."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from speech_proactive import audio
from speech_proactive.data import synth
from speech_proactive.data.synth import SynthJob, Voice, ideal_read_ms, pick_voice, synthesize, synthesize_all

REASON = synth.unavailable_reason()
needs_espeak = pytest.mark.skipif(REASON is not None, reason=f"espeak-ng is not usable here: {REASON}")

EIGHT = ("the", "old", "man", "reads", "a", "book", "every", "morning")
PLAIN = Voice("en", "m3", 170, 50)  # no echo: the sound stops when the word does
LOUD = 10 ** (-40 / 20)  # -40 dBFS


def job(tmp_path: Path, uid: str = "u", words=EIGHT, voice: Voice = PLAIN) -> SynthJob:
    return SynthJob(uid, tuple(words), voice, tmp_path / f"{uid}.wav")


def loud_ms(samples: np.ndarray) -> np.ndarray:
    """Times (ms) of the samples above -40 dBFS."""
    return np.nonzero(np.abs(samples) > LOUD)[0] * 1000.0 / audio.SAMPLE_RATE


# --- format and times -------------------------------------------------------------------------------------------


@needs_espeak
def test_writes_16k_mono_wav_with_one_time_per_word(tmp_path):
    import soundfile as sf

    r = synthesize(job(tmp_path))
    info = sf.info(str(r.out_path))
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, r.n_samples)
    assert 1500 < r.duration_ms < 6000, "8 words at 170 wpm take about 3 s"
    assert len(r.word_end_ms) == len(EIGHT)
    assert all(a < b for a, b in zip(r.word_end_ms, r.word_end_ms[1:])), r.word_end_ms
    assert 50 < r.word_end_ms[0] and r.word_end_ms[-1] <= r.duration_ms
    assert abs(loud_ms(audio.load_audio(r.out_path))[-1] - r.word_end_ms[-1]) < 30, "last word ends with the speech"
    assert synth.sidecar_path(r.out_path).is_file()


@needs_espeak
def test_word_end_is_where_the_sound_stops_before_a_pause(tmp_path):
    r = synthesize(job(tmp_path, words=("hello", "world,", "the", "cat", "sat", "down.")))
    x = audio.load_audio(r.out_path)
    end = r.word_end_ms[1]  # "world," then the comma's pause
    loud = loud_ms(x)
    before, after = loud[loud <= end + 5], loud[loud > end + 5]
    assert end - before[-1] < 15, "sound right up to the word's end"
    assert after[0] - end > 80, "then silence: the comma's pause"
    assert r.word_end_ms[2] > after[0] - 10, "'the' ends after it started"


@needs_espeak
def test_phrase_spoken_as_one_word_is_split_between_its_words():
    words = ("he", "does", "not", "sit", "in", "the", "garden.")
    spoken = synth.speak_words_fresh(PLAIN, words)
    per_word = synth.sounding_by_word(spoken.speech.phonemes, words)
    assert [(u.first, u.last) for u in synth.merged_units(per_word)] == [(1, 2), (4, 5)], "espeak merges these"
    ends = synth.word_end_samples(spoken, words)
    assert all(a < b for a, b in zip(ends, ends[1:])), ends
    does_not = [spoken.speech.phonemes[i].name for i in per_word[1]]
    assert does_not == ["d", "V", "z", "n", "0", "t"]
    assert ends[1] == spoken.speech.phonemes[per_word[1][3]].start_sample, "'does' ends where 'n' starts"


@needs_espeak
@pytest.mark.parametrize("voice", [Voice("de", "mb-de2", 160, 50), Voice("en", "mb-us2", 160, 50)])
def test_mbrola_word_ends_where_its_sound_stops_before_a_pause(tmp_path, voice):
    """Through MBROLA only a word's first phoneme event carries the word's position: the others must still count
    for their word, or every word would end at its first phoneme."""
    words = (
        ("Maria", "kommt,", "der", "Vater", "schläft.")
        if voice.lang == "de"
        else ("hello", "world,", "the", "cat", "sat", "down.")
    )
    r = synthesize(job(tmp_path, words=words, voice=voice))
    assert all(a < b for a, b in zip(r.word_end_ms, r.word_end_ms[1:])), r.word_end_ms
    loud = loud_ms(audio.load_audio(r.out_path))
    end = r.word_end_ms[1]  # the word before the comma's pause
    before, after = loud[loud <= end + 5], loud[loud > end + 5]
    assert end - before[-1] < 25, "sound right up to the word's end"
    assert after[0] - end > 60, "then silence: the comma's pause"
    assert abs(loud[-1] - r.word_end_ms[-1]) < 40, "the last word ends with the speech"


def test_positions_carry_over_phonemes_that_mbrola_leaves_at_zero_or_stale():
    ph = synth.Phoneme
    # as mbrola reports them: 0 after a word's first phoneme, or the position of the last pause (13)
    events = (ph(0, 0, "_"), ph(10, 1, "d"), ph(20, 0, "E"), ph(30, 13, "_:"), ph(40, 14, "D"), ph(50, 13, "@"))
    assert [p.text_position for p in synth.carry_positions(events)] == [0, 1, 1, 13, 14, 14]


def test_mbrola_voice_checks(tmp_path):
    with pytest.raises(ValueError, match="does not speak 'en'"):
        Voice("en", "mb-de2", 160, 50)
    assert Voice("de", "mb-de2", 160, 50).speaker_id == "mbrola-de-de2-s160-p50"
    assert Voice("de", "mb-de2", 160, 50).espeak_name == "mb-de2"
    assert "no MBROLA voice 'mb-de2'" in synth.mbrola_missing("mb-de2", tmp_path)
    (tmp_path / "mb-de2").write_text("name german-mbrola-2\n")
    missing = synth.mbrola_missing("mb-de2", tmp_path)
    assert missing is None or "install_voices.sh" in missing  # None where the voice's data is installed


def test_word_end_samples_on_made_up_events():
    ph = synth.Phoneme
    words = ("ab", "cd", "-", "ef")  # positions 1, 4, 7, 9; "-" is silent
    phonemes = (
        ph(10, 1, "a"),
        ph(20, 1, "b"),
        ph(30, 4, "c"),
        ph(40, 4, "d"),
        ph(50, 4, "_:"),
        ph(70, 9, "e"),
        ph(80, 9, "f"),
        ph(95, 9, "_"),
    )
    speech = synth.Speech(np.zeros(100, np.int16), 22050, phonemes)
    spoken = synth.SpokenWords(speech, (None, 2, 0, None))  # "cd" and the silent "-" form one unit
    assert synth.word_end_samples(spoken, words) == (30, 50, 50, 95)


# --- determinism ------------------------------------------------------------------------------------------------


@needs_espeak
def test_same_job_twice_gives_identical_files(tmp_path):
    voice = Voice("de", "klatt2", 150, 40)  # Klatt voices use rand(): the case most likely to differ
    words = ("das", "Kind", "spielt", "heute", "nicht", "im", "Garten.")
    a = synthesize(job(tmp_path / "a", words=words, voice=voice))
    b = synthesize(job(tmp_path / "b", words=words, voice=voice))
    assert a.out_path.read_bytes() == b.out_path.read_bytes()
    assert (a.n_samples, a.word_end_ms) == (b.n_samples, b.word_end_ms)


@needs_espeak
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the espeak-ng command is not installed")
@pytest.mark.parametrize(
    "voice",
    [
        Voice("en", "m1", 183, 62),
        Voice("de", "f4", 141, 33),
        Voice("de", "mb-de6", 150, 45),
        Voice("en", "mb-us1", 172, 55),
    ],
    ids=["espeak-en", "espeak-de", "mbrola-de6-22k", "mbrola-us1-16k"],
)
def test_audio_is_bit_identical_to_the_command_line(tmp_path, voice):
    words = ("my", "sister", "has", "not", "bought", "a", "new", "bicycle.")
    ours = synth.speak_words_fresh(voice, words).speech
    wav = tmp_path / "cli.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            voice.espeak_name,
            "-s",
            str(voice.speed_wpm),
            "-p",
            str(voice.pitch),
            "-w",
            str(wav),
            " ".join(words),
        ],
        check=True,
    )
    import soundfile as sf

    cli, rate = sf.read(str(wav), dtype="int16")
    assert rate == ours.sample_rate
    np.testing.assert_array_equal(ours.samples, cli)


# --- many utterances, resuming ----------------------------------------------------------------------------------


def _stamps(paths) -> list[int]:
    return [p.stat().st_mtime_ns for p in paths]


@needs_espeak
def test_synthesize_all_is_parallel_ordered_and_resumable(tmp_path, monkeypatch):
    jobs = [
        job(tmp_path, f"u{i}", EIGHT[i:] + EIGHT[:i], pick_voice("en" if i % 2 else "de", f"u{i}")) for i in range(6)
    ]
    first = synthesize_all(jobs, n_workers=2)
    assert [r.id for r in first] == [j.id for j in jobs]
    alone = synthesize(SynthJob(jobs[3].id, jobs[3].words, jobs[3].voice, tmp_path / "alone" / "u3.wav"))
    assert alone.out_path.read_bytes() == jobs[3].out_path.read_bytes(), "same audio in a worker or not"
    assert alone.word_end_ms == first[3].word_end_ms
    files = [j.out_path for j in jobs] + [j.sidecar_path for j in jobs]
    stamps = _stamps(files)

    def no_synthesis(j):
        raise AssertionError(f"{j.id} was synthesized again")

    monkeypatch.setattr(synth, "synthesize", no_synthesis)
    assert synthesize_all(jobs, n_workers=2) == first
    assert _stamps(files) == stamps, "nothing rewritten"


@needs_espeak
def test_resuming_redoes_unfinished_and_changed_jobs_only(tmp_path):
    jobs = [job(tmp_path, f"u{i}") for i in range(3)]
    synthesize_all(jobs, n_workers=1)
    jobs[0].sidecar_path.unlink()  # killed after the wav, before the sidecar
    jobs[1].out_path.write_bytes(jobs[1].out_path.read_bytes()[:100])  # a stale half file ...
    jobs[1].sidecar_path.unlink()  # ... without its sidecar
    changed = SynthJob(jobs[2].id, ("a", "new", "text"), PLAIN, jobs[2].out_path)
    untouched = job(tmp_path, "u3")
    synthesize_all([untouched])
    stamp = _stamps([untouched.out_path])
    results = synthesize_all([jobs[0], jobs[1], changed, untouched], n_workers=1)
    assert _stamps([untouched.out_path]) == stamp
    assert [len(r.word_end_ms) for r in results] == [8, 8, 3, 8]
    assert audio.load_audio(jobs[1].out_path).size == results[1].n_samples
    assert list(tmp_path.glob("*.tmp-*")) == [], "no temporary files left"


def test_synthesize_all_rejects_duplicate_ids_and_paths(tmp_path):
    with pytest.raises(ValueError, match="share an id"):
        synthesize_all([job(tmp_path, "a"), SynthJob("a", ("x",), PLAIN, tmp_path / "b.wav")])
    with pytest.raises(ValueError, match="share an out_path"):
        synthesize_all([job(tmp_path, "a"), SynthJob("b", ("x",), PLAIN, tmp_path / "a.wav")])


def test_job_and_voice_validation(tmp_path):
    with pytest.raises(ValueError, match="no words"):
        SynthJob("x", (), PLAIN, tmp_path / "x.wav")
    with pytest.raises(ValueError, match="whitespace"):
        SynthJob("x", ("two words",), PLAIN, tmp_path / "x.wav")
    with pytest.raises(ValueError, match=".wav"):
        SynthJob("x", ("a",), PLAIN, tmp_path / "x.flac")
    with pytest.raises(ValueError, match="unsupported language"):
        Voice("fr", None, 170, 50)
    with pytest.raises(ValueError, match="pitch"):
        Voice("en", None, 170, 100)


@needs_espeak
def test_unknown_variant_is_a_clear_error(tmp_path):
    bad = job(tmp_path, voice=Voice("en", "nosuchvoice", 170, 50))
    with pytest.raises(synth.SynthError, match=r"utterance 'u'.*no variant 'nosuchvoice'"):
        synthesize(bad)
    with pytest.raises(synth.SynthError, match=r"no variant 'nosuchvoice'"):
        synthesize_all([job(tmp_path, "ok"), bad])
    assert not (tmp_path / "ok.wav").exists(), "checked before any work"
    assert synthesize(job(tmp_path)).n_samples > 0, "the helper process survives the error"


# --- voices -----------------------------------------------------------------------------------------------------


def test_pick_voice_is_deterministic_and_varied():
    assert pick_voice("en", "utt-17") == pick_voice("en", "utt-17")
    voices = [pick_voice("de", f"utt-{i}") for i in range(300)]
    assert {v.lang for v in voices} == {"de"}
    assert len({v.variant for v in voices}) >= 10
    speeds, pitches = [v.speed_wpm for v in voices], [v.pitch for v in voices]
    assert 140 <= min(speeds) < 145 and 185 < max(speeds) <= 190
    assert 30 <= min(pitches) < 35 and 65 < max(pitches) <= 70
    assert len(set(voices)) > 250
    with pytest.raises(ValueError, match="unsupported language"):
        pick_voice("xx", "k")


# --- ideal read points ------------------------------------------------------------------------------------------


def test_ideal_read_ms_verb_final_target():
    # "I have read the book" -> "Ich habe das Buch gelesen": "gelesen" depends on the early English "read"
    src_end_ms = [100.0, 300.0, 500.0, 600.0, 900.0]  # I have read the book
    align = [[0], [1], [3], [4], [2]]  # Ich habe das Buch gelesen
    assert ideal_read_ms(src_end_ms, align) == (100.0, 300.0, 600.0, 900.0, 900.0), (
        "'read' ends at 500, but 'gelesen' comes after 'Buch' (900): cumulative max"
    )
    # the other way: "Ich habe das Buch gelesen" -> "I have read the book": "read" waits for the final verb
    de_end_ms = [100.0, 300.0, 450.0, 700.0, 1100.0]
    assert ideal_read_ms(de_end_ms, [[0], [1], [4], [2], [3]]) == (100.0, 300.0, 1100.0, 1100.0, 1100.0)


def test_ideal_read_ms_max_over_aligned_words_and_unaligned_words():
    assert ideal_read_ms([100.0, 200.0, 300.0], [[0, 2], [1]]) == (300.0, 300.0)
    assert ideal_read_ms([100.0, 200.0, 300.0], [[], [1], [], [2]]) == (0.0, 200.0, 200.0, 300.0)
    with pytest.raises(ValueError, match="target word 1 .* source word"):
        ideal_read_ms([100.0, 200.0], [[0], [2]])
