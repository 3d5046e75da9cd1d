"""The auxiliary CTC head's units and decoding."""

import torch

from speech_proactive.model import ctc


def test_transcript_normalisation_keeps_what_speech_carries():
    assert (
        ctc.normalise_transcript("Der Vater ist heute im Garten gelaufen.") == "der vater ist heute im garten gelaufen"
    )
    assert ctc.normalise_transcript("  Don't -- STOP,  Ärzte! ") == "don't stop ärzte"


def test_byte_targets_round_trip_and_never_use_the_blank():
    t = ctc.byte_targets("Ärzte können")
    assert int(t.min()) > ctc.BYTE_BLANK and int(t.max()) < ctc.N_BYTE_CLASSES
    assert len(t) == len("ärzte können".encode())  # umlauts are two bytes
    assert ctc.bytes_to_text(t.tolist()) == "ärzte können"


def test_greedy_merges_repeats_and_drops_blanks():
    path = [0, 5, 5, 0, 5, 7, 7, 0]  # best classes per frame
    head = torch.nn.Identity()
    features = torch.nn.functional.one_hot(torch.tensor(path), 9).float()
    assert ctc.greedy(head, features, len(path), blank=0) == [5, 5, 7]
    assert ctc.greedy(head, features, 3, blank=0) == [5]


def test_ctc_loss_prefers_the_right_transcript():
    torch.manual_seed(0)
    target = ctc.byte_targets("ab")
    frames = torch.full((1, 6), ctc.BYTE_BLANK)
    frames[0, 1], frames[0, 4] = target[0], target[1]
    features = torch.nn.functional.one_hot(frames, ctc.N_BYTE_CLASSES).float() * 10
    head = torch.nn.Identity()
    n = torch.tensor([6])
    right = ctc.ctc_loss(head, features, n, [target], ctc.BYTE_BLANK)
    wrong = ctc.ctc_loss(head, features, n, [ctc.byte_targets("ba")], ctc.BYTE_BLANK)
    assert right < 0.1 < wrong
