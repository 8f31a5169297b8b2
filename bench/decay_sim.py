#!/usr/bin/env python3
"""decay_sim.py — what limit the dirty set's decay curve settles at.

A model of alloc/page/decay.c's rule, not of the allocator: every epoch
the set changes by the difference of two uniform draws in [-swing, swing]
(a live set that swings around a steady level) plus `flow` pages (pages
freed that later requests cannot reuse, so their place is taken from the
retained set).  At each epoch's end the growth past the mark joins the
backlog, the limit is the smoothstep-weighted backlog, the mark becomes
max(limit, pages held), and the set is purged down to the limit.  With
--jemalloc-mark the purge leaves the mark as it was; by default the mark is
lowered to the purged set, as pac.c does.

Prints the mean limit (pages) over the second half of the run for each
flow.  Used for the soak diagnosis in docs/PERFORMANCE.md:
    python3 bench/decay_sim.py --swing 1500 --flow 0,25,50
"""
import argparse
import random

NSTEPS = 200  # DECAY_NSTEPS


def weights():
    """h(i): smoothstep at (i + 1) / NSTEPS, oldest epoch first."""
    return [(j * j * (3 * NSTEPS - 2 * j)) / NSTEPS**3
            for j in range(1, NSTEPS + 1)]


def mean_limit(swing, flow, epochs, seed, jemalloc_mark):
    rng = random.Random(seed)
    h = weights()
    backlog = [0] * NSTEPS
    held = mark = 0
    noise = 0
    total = count = 0
    for k in range(epochs):
        draw = rng.randint(-swing, swing)
        held = max(0, held + flow + draw - noise)
        noise = draw
        backlog = backlog[1:] + [max(0, held - mark)]
        limit = sum(b * w for b, w in zip(backlog, h))
        mark = max(limit, held)
        if held > limit:
            held = int(limit)
            if not jemalloc_mark:
                mark = limit  # lowered to the purged set
        if k >= epochs // 2:
            total += limit
            count += 1
    return total / count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swing", type=int, default=1500,
                    help="pages the set swings by, epoch to epoch")
    ap.add_argument("--flow", default="0,25,50",
                    help="comma-separated flows (pages an epoch)")
    ap.add_argument("--epochs", type=int, default=1600)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jemalloc-mark", action="store_true")
    a = ap.parse_args()
    for f in (int(x) for x in a.flow.split(",")):
        runs = [mean_limit(a.swing, f, a.epochs, s, a.jemalloc_mark)
                for s in range(1, a.seeds + 1)]
        print(f"swing={a.swing} flow={f} mean_limit_pages="
              f"{sum(runs) / len(runs):.0f}")


if __name__ == "__main__":
    main()
