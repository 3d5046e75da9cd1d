"""The scorer takes the task and the target language from the decoded rows (from the manifest), never from a
test set's file name; its BLEU, WER and AL are checked against values computed here on a fixed fixture."""

import json

import pytest
import sacrebleu

from speech_proactive.evaluation import evaluate, results
from speech_proactive.evaluation.results import Job, write_decoded
from speech_proactive.streaming.decode import Decoded
from speech_proactive.streaming.policies import Offline

SOURCE_MS = 3000.0


def fixed(task: str, src: str, tgt: str, pairs: list[tuple[str, str]]) -> list[Decoded]:
    """Word i of every hypothesis is written after (i + 1) s of a 3 s source (at most 3 s); compute adds 10 ms
    per word."""
    out = []
    for n, (hyp, ref) in enumerate(pairs):
        delays = tuple(min(1000.0 * (i + 1), SOURCE_MS) for i in range(len(hyp.split())))
        out.append(
            Decoded(
                f"u{n}",
                hyp,
                ref,
                delays,
                tuple(d + 10.0 * (i + 1) for i, d in enumerate(delays)),
                SOURCE_MS,
                30.0,
                task,
                None,
                src,
                tgt,
            )
        )
    return out


DE_EN = [("the old man reads", "the old man reads a book"), ("a child plays", "the child plays")]


def test_a_test_set_named_tst_common_holding_de_en():
    row = results.score_row("tst-COMMON.jsonl", "offline", fixed("st", "de", "en", DE_EN))
    hyps, refs = [h for h, _ in DE_EN], [r for _, r in DE_EN]
    assert row["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert row["bleu_tokenizer"] == "13a" and "wer" not in row and row["n"] == 2
    # AL by hand, source 3 s: "the old man reads" vs a 6-word reference (0.5 s per reference word) reaches the
    # end of the source at its 3rd word: (1000 + 1500 + 2000) / 3; "a child plays" vs 3 words: (1000 + 1000 + 1000) / 3
    assert row["AL"] == pytest.approx(((1000 + 1500 + 2000) / 3 + 1000) / 2)
    assert row["AL_CA"] > row["AL"]


def test_asr_rows_get_a_wer_whatever_the_file_is_called():
    pairs = [("the man reads a book", "the man reads the book"), ("hello", "hello world")]
    row = results.score_row("test.en-de.jsonl", "offline", fixed("asr", "en", "en", pairs))
    assert row["wer"] == pytest.approx(100 * (1 + 1) / (5 + 2))  # one substitution, one deletion


def test_the_target_language_picks_the_bleu_tokenizer():
    pairs = [("我们 今天 去 公园", "我们今天去公园"), ("他 读书", "他在读书")]
    row = results.score_row("test.de-en.jsonl", "offline", fixed("st", "en", "zh", pairs))
    hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
    assert row["bleu_tokenizer"] == "zh"
    assert row["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)
    assert row["bleu"] != pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)  # 13a would score otherwise


def test_rows_that_cannot_share_a_score_are_refused():
    mixed = fixed("st", "en", "zh", DE_EN[:1]) + fixed("st", "de", "en", DE_EN[1:])
    with pytest.raises(ValueError, match="several BLEU tokenizers"):
        results.score_row("t.jsonl", "offline", mixed)
    both = fixed("st", "de", "en", DE_EN[:1]) + fixed("st", "en", "de", DE_EN[1:])  # en and de: one tokenizer
    assert results.score_row("t.jsonl", "offline", both)["n"] == 2
    old = [Decoded("u", "a", "a", (1.0,), (1.0,), 10.0, 1.0)]  # decoded before languages were recorded
    with pytest.raises(ValueError, match="decode again"):
        results.score_row("t.jsonl", "offline", old)


def test_evaluate_merge_scores_a_decoded_fixture(tmp_path, capsys):
    """The command's own path: decoded/ files in, results.json out, with the values computed above."""
    decoded = fixed("st", "de", "en", DE_EN)
    write_decoded(tmp_path / "run", Job(tmp_path / "tst-COMMON.jsonl", "offline", Offline(), 0, 2), decoded, "")
    assert evaluate.main(["--merge", str(tmp_path / "run"), "--out", str(tmp_path / "scored")]) == 0
    (row,) = json.loads((tmp_path / "scored" / "results.json").read_text())["rows"]
    assert row["test"] == "tst-COMMON.jsonl" and row["policy"] == "offline"
    assert row["bleu"] == pytest.approx(results.score_row("x", "offline", decoded)["bleu"])
    assert row["bleu"] == pytest.approx(sacrebleu.corpus_bleu([h for h, _ in DE_EN], [[r for _, r in DE_EN]]).score)
    assert f"| offline | 2 | {row['bleu']:.1f} |" in (tmp_path / "scored" / "results.md").read_text()
