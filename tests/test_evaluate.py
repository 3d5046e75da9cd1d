"""Evaluation: latency formulas against SimulEval's own scorer, word delays, baselines, and the CLI table."""

import pytest

from speech_proactive.data.manifest import Utterance, read_manifest
from speech_proactive.evaluate import average_lagging, complete_words, decode_manifest, parse_policy, score
from speech_proactive.text_baselines import copy_source, nearest_neighbour


def simuleval_al(delays, source_ms, ref_len):
    """SimulEval 1.1.4's ALScorer.compute on a real Instance-like object."""
    from simuleval.evaluator.scorers.latency_scorer import ALScorer

    class Ins:  # ALScorer reads only these attributes (get_delays_lengths); issue 5 runs the real evaluator
        pass

    ins = Ins()
    ins.delays, ins.source_length = delays, source_ms
    ins.reference, ins.reference_length = " ".join(["w"] * ref_len), ref_len
    return ALScorer().compute(ins)


@pytest.mark.parametrize("delays,source_ms,ref_len", [
    ([320, 640, 960, 1280], 2000, 4), ([0, 0, 2000, 2000], 2000, 6), ([2500], 2000, 3), ([640, 640, 1900], 1900, 2)])
def test_al_equals_simuleval(delays, source_ms, ref_len):
    assert average_lagging(delays, source_ms, ref_len) == pytest.approx(simuleval_al(delays, source_ms, ref_len))


def test_laal_uses_the_longer_length():
    delays, src = [500, 1000, 1500, 2000, 2000, 2000], 2000
    al, laal = average_lagging(delays, src, 3), average_lagging(delays, src, 3, hyp_len=6)
    assert laal > al  # an over-long hypothesis is not rewarded with a low AL
    assert average_lagging(delays, src, 6, hyp_len=3) == pytest.approx(average_lagging(delays, src, 6))


def test_complete_words():
    assert [complete_words(t) for t in ["", " der", " der alte", " der alte "]] == [0, 0, 1, 2]


def test_baselines():
    mk = lambda i, s, t: Utterance(str(i), "x.wav", 1, "en", s, "de", t, "x")  # noqa: E731
    train = [mk(0, "the man reads a book", "der mann liest ein buch"), mk(1, "the child plays", "das kind spielt")]
    test = [mk(2, "the child plays now", "das kind spielt jetzt")]
    assert nearest_neighbour(train, test) == ["das kind spielt"]
    assert copy_source(test) == ["the child plays now"]


def test_decode_samples_with_a_random_model(model):
    """The shipped samples decode end to end; a random model's BLEU is honest nonsense (near 0)."""
    from conftest import REPO

    m = read_manifest(REPO / "audio_samples" / "samples.jsonl")
    decoded = decode_manifest(model, m, parse_policy("wait-k:2:1")[1], limit=2, progress=False)
    s = score(decoded)
    assert s.n == 2 and s.bleu < 5 and s.rtf > 0
    for d in decoded:
        assert len(d.word_delays_ms) == len(d.hyp.split())
        assert list(d.word_delays_ms) == sorted(d.word_delays_ms) and max(d.word_delays_ms, default=0) <= d.source_ms


def test_bad_policy_spec():
    with pytest.raises(ValueError, match="bad policy"):
        parse_policy("wait-k:x")
