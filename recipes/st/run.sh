#!/usr/bin/env bash
# The speech-translation recipe, in stages (each leaves a .done marker; delete data/ or runs/ to redo).
#   stage 1  prepare the corpus             data/$CORPUS/
#   stage 2  train the model                runs/st-default/ (resumes a killed run)
#   stage 3  evaluate on the test splits    runs/st-default/eval/results.md
# Variables: CORPUS=grammar (default; the only one wired to training so far), N_SENTENCES=6000,
#            CONFIG=recipes/st/default.yaml, RUN=runs/st-default, STAGE=1 (first stage to run),
#            OVERRIDES="max_steps=100 ..." (training options, see python -m speech_proactive.train --help)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
PY=.venv/bin/python
CORPUS=${CORPUS:-grammar}
N_SENTENCES=${N_SENTENCES:-6000}
CONFIG=${CONFIG:-recipes/st/default.yaml}
RUN=${RUN:-runs/st-default}
STAGE=${STAGE:-1}
OVERRIDES=${OVERRIDES:-}
DATA=data/$CORPUS
t_start=$(date +%s)
say() { echo "== [$(( $(date +%s) - t_start ))s] $*"; }

if [ "$CORPUS" != grammar ]; then
  echo "recipe-st: CORPUS=$CORPUS is not wired to training yet; build it with python -m speech_proactive.data.$CORPUS" >&2
  exit 2
fi

if [ "$STAGE" -le 1 ] && [ ! -f "$DATA/.done" ]; then
  say "stage 1: building the grammar corpus ($N_SENTENCES sentences, both directions) in $DATA"
  $PY -m speech_proactive.data.grammar_corpus --out "$DATA" --n "$N_SENTENCES"
  touch "$DATA/.done"
fi

if [ "$STAGE" -le 2 ] && [ ! -f "$RUN/.done" ]; then
  resume=""
  if compgen -G "$RUN/checkpoints/step-*/bundle.json" > /dev/null; then resume="--resume"; fi
  say "stage 2: training $CONFIG -> $RUN ${resume:+(resuming)}"
  # shellcheck disable=SC2086
  $PY -m speech_proactive.train "$CONFIG" out="$RUN" $OVERRIDES $resume
  touch "$RUN/.done"
fi

if [ "$STAGE" -le 3 ]; then
  say "stage 3: evaluating $RUN/bundle on the test splits"
  $PY -m speech_proactive.evaluate --model "$RUN/bundle" \
    --manifest "$DATA"/test.en-de.jsonl "$DATA"/test.de-en.jsonl "$DATA"/test_shapes.en-de.jsonl "$DATA"/test_shapes.de-en.jsonl \
    --policies offline wait-k:2:2 wait-k:4:2 \
    --baselines-from "$DATA"/train.en-de.jsonl "$DATA"/train.de-en.jsonl \
    --limit "${EVAL_LIMIT:-200}" --out "$RUN/eval"
fi
say "done: model $RUN/bundle, results $RUN/eval/results.md, losses $RUN/loss.png"
