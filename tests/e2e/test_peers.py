"""A real peer in the results table: Whisper run by ctranslate2 over the same audio, scored by the same scorer,
offline and under LocalAgreement-2. A tiny random Whisper (written by ctranslate2's converter) writes nonsense;
what is checked is the plumbing: prompts, the agreement rule, word times, the rows of `evaluate --peers`."""

import json

import pytest
import whisper.tokenizer
from helpers import REPO, ct2_convert, hf_whisper

from speech_proactive import audio
from speech_proactive.config import TaskSpec
from speech_proactive.data.manifest import read_manifest, write_manifest
from speech_proactive.evaluation import evaluate
from speech_proactive.evaluation.peers import WhisperPeer, agreed_prefix, decode_la2, decode_offline, parse_peer

pytest.importorskip("ctranslate2")
MULTILINGUAL_VOCAB = 51865  # Whisper's multilingual vocabulary: its prompts' special tokens live at the end


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    d = tmp_path_factory.mktemp("peer")
    hf_whisper(d / "hf", vocab_size=MULTILINGUAL_VOCAB, max_target_positions=448)
    out = ct2_convert(d / "hf", d / "whisper-tiny-random")
    # without a tokenizer the converter names every token a timestamp; ctranslate2 finds its prompt's special
    # tokens by name, so name them as the real multilingual vocabulary does (ordinary tokens stay placeholders)
    special = whisper.tokenizer.get_tokenizer(True, num_languages=99).encoding._special_tokens
    names = {i: name for name, i in special.items()}
    vocab = [names.get(i, f"<tok{i}>") for i in range(MULTILINGUAL_VOCAB)]
    (out / "vocabulary.json").write_text(json.dumps(vocab))
    return out


def test_peer_specs():
    assert parse_peer("whisper:/m/base:la2").mode == "la2" and parse_peer("whisper:/m/base").mode == "offline"
    assert parse_peer("whisper:/m/base").label == "whisper:base"
    for bad in ("whisper", "nemo:/m", "whisper:/m:wait"):
        with pytest.raises(ValueError, match="peer"):
            parse_peer(bad)


def test_local_agreement_commits_what_two_hypotheses_share():
    assert agreed_prefix("the old man".split(), "the old woman reads".split()) == 2
    assert agreed_prefix([], "a b".split()) == 0 and agreed_prefix("a b".split(), "a b".split()) == 2


def test_prompts_follow_what_whisper_can_do(tiny_whisper):
    peer = WhisperPeer(tiny_whisper)
    sot, translate, transcribe = (peer.tokenizer.sot, peer.tokenizer.special_tokens["<|translate|>"],
                                  peer.tokenizer.special_tokens["<|transcribe|>"])  # fmt: skip
    de_en = peer.prompt(TaskSpec("st", "de", "en"))
    assert de_en[0] == sot and translate in de_en and peer.tokenizer.special_tokens["<|de|>"] in de_en
    assert transcribe in peer.prompt(TaskSpec("asr", "en", "en"))
    assert peer.prompt(TaskSpec("st", "en", "de")) is None  # Whisper translates into English only


def test_offline_and_la2_word_times(tiny_whisper):
    peer = WhisperPeer(tiny_whisper)
    samples = audio.load_audio(REPO / "audio_samples" / "sample2.de.wav")
    prompt = peer.prompt(TaskSpec("st", "de", "en"))
    off = decode_offline(peer, samples, prompt)
    source_ms = audio.samples_to_ms(len(samples))
    assert off.text == peer.decode(samples, prompt)  # greedy decoding is deterministic
    assert off.delays_ms == (source_ms,) * len(off.text.split())
    la2 = decode_la2(peer, samples, prompt, chunk_ms=320)
    assert len(la2.delays_ms) == len(la2.text.split()) == len(la2.elapsed_ms)
    assert list(la2.delays_ms) == sorted(la2.delays_ms) and max(la2.delays_ms, default=0) <= source_ms
    assert all(e > d for e, d in zip(la2.elapsed_ms, la2.delays_ms)) and la2.compute_ms > off.compute_ms


def test_evaluate_adds_peer_rows_scored_like_the_model(bundle, tiny_whisper, tmp_path):
    rows = [u for u in read_manifest(REPO / "audio_samples" / "samples.jsonl").rows if u.tgt_lang == "en"][:2]
    de_en = write_manifest(tmp_path / "test.de-en.jsonl", [u.__class__(**{**u.__dict__, "audio": str(
        (REPO / "audio_samples" / u.audio).resolve())}) for u in rows])  # fmt: skip
    out = tmp_path / "eval"
    assert evaluate.main(["--model", str(bundle), "--manifest", str(de_en), "--policies", "wait-k:2",
                          "--peers", f"whisper:{tiny_whisper}", f"whisper:{tiny_whisper}:la2",
                          "--out", str(out)]) == 0  # fmt: skip
    scored = {r["policy"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert set(scored) == {"wait-k:2", "whisper:whisper-tiny-random", "whisper:whisper-tiny-random:la2"}
    offline = scored["whisper:whisper-tiny-random"]
    assert offline["n"] == 2 and offline["bleu_tokenizer"] == "13a" and offline["bleu"] < 5  # random: nonsense
    assert scored["whisper:whisper-tiny-random:la2"]["rtf"] > offline["rtf"]  # it decodes once per chunk
