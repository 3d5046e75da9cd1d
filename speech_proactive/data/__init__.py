"""Corpora: one manifest format for all of them (manifest), espeak-ng speech (synth), SimulEval input lists,
Debian packages unpacked without installing (debian_packages), and one module per corpus in corpora/."""
