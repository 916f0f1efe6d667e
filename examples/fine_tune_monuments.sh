#!/usr/bin/env bash
# Fine-tune rgc-lean-2 on one kind of photo and measure what it gained (docs/training.md,
# "Train your own"): the 32 monument photos of the training set, measured on the 17 held-out monument
# photos no model trains on. Full fine-tuning and freeze training get one CPU-hour each (about two hours
# of wall time with one thread each). Needs the [train] extra; run from the repository root.
set -euo pipefail
DATA=${DATA:-../shared/data}
WORK=${WORK:-runs/monuments}
HOLDOUT="$DATA/holdout-monuments"
mkdir -p "$WORK/photos"

# The explore_monuments group of the training split (SOURCES.tsv columns: split, file, source, size, group).
awk -F'\t' '$1 == "train" && $5 == "explore_monuments" {print $2}' "$DATA/SOURCES.tsv" |
    while read -r name; do ln -sf "$(realpath "$DATA/train/$name")" "$WORK/photos/$name"; done

# Which layers had stopped changing: the default model against its own line 5,200 steps earlier. It
# prints both ends of the network; freezing the decoder's output end alone (no detached residual) is
# the set that reached the full fine-tune's BD-rate in about half the CPU time (docs/training.md).
rgc analyze svcca rgc-lean-1 rgc-lean-2 --images "$DATA/train" --limit 12 --converged 0.8 \
    --plot "$WORK/svcca-lean-1-vs-2.png"
FROZEN=decoder.rnns.3,decoder.output

# Stochastic bits, as when docs/training.md's numbers were measured (rgc train now fine-tunes with the
# straight-through binarizer by default).
COMMON=(--images "$WORK/photos" --init rgc-lean-2 --cpu-hours 1 --threads 1 --snapshot-every 600
        --val "$DATA/val" --eval "$HOLDOUT" --binarizer stochastic)
rgc train "${COMMON[@]}" --out monuments-full --run-dir "$WORK/full"
rgc train "${COMMON[@]}" --out monuments-freeze --run-dir "$WORK/freeze" --freeze "$FROZEN"

# Both against the start model and JPEG; which layers the fine-tune changed; BD-rate per CPU minute.
rgc evaluate --images "$HOLDOUT" --models rgc-lean-2 monuments-full monuments-freeze \
    --plot "$WORK/rd-holdout-monuments.png"
rgc analyze svcca rgc-lean-2 monuments-full --images "$HOLDOUT" --plot "$WORK/svcca-fine-tune.png"
python benchmarks/freeze_training.py "$WORK/full" "$WORK/freeze" --images "$HOLDOUT" --start rgc-lean-2
