"""One module per corpus: builders of the synthetic corpora (grammar, qa), Debian-packaged data (ding, fillets)
and loaders of public corpora on disk (librispeech, covost, mustc, spoken_squad), each writing our manifest."""
