"""Matching a whole program: how long does the exact optimum take, against scipy's dense solve?

    python bench/matching.py [--mentees 10000] [--mentors 2000] [--seed 1] [--small 2000x400]

A seeded random program: mentors with capacity 1-5 (some already carrying mentees), random topics,
interests and languages, 11 time zones; block-list entries for 1% of the members and never-again
pairs for 5% of the mentees (each a random mentee-mentor pair). The rules: at most 6 hours between
time zones, and a shared language. It prints the time and peak memory of `match_mentorship`, then on
the same instance the objective and time of `linear_sum_assignment` on the dense capacity-expanded
score matrix (the same big constant per match, refused cells worth nothing), and the ratio. When that
dense matrix would not fit in the memory available, it says so and its size; `--small` (a second,
smaller instance) is always compared both ways.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, when it is not installed

from bot.matching import Candidate, Rules, Weights, _grid, match_mentorship, objective, slots
from storage.models import Role

TOPICS = [f"topic{i}" for i in range(30)]
INTERESTS = [f"hobby{i}" for i in range(40)]
LANGUAGES = ["en", "de", "fr", "es", "pt", "ja", "hi", "ar"]
ZONES = [-8, -6, -5, -3, 0, 1, 2, 3, 5.5, 8, 9]   # 11 time zones
RULES = Rules(max_tz_gap_hours=6, require_shared_language=True)


def program(mentees: int, mentors: int, seed: int) -> tuple[list[Candidate], list[Candidate], frozenset[frozenset[int]]]:
    """A random program: mentors, mentees and the forbidden pairs (block lists and never-again)."""
    rng = random.Random(seed)

    def person(member_id: int, role: Role, capacity: int = 1, load: int = 0) -> Candidate:
        langs = {"en"} if rng.random() < 0.7 else set()
        langs |= set(rng.sample(LANGUAGES, rng.randint(1, 2)))
        return Candidate(member_id, role, frozenset(rng.sample(TOPICS, rng.randint(1, 4))),
                         frozenset(rng.sample(INTERESTS, rng.randint(0, 5))), frozenset(langs),
                         rng.choice(ZONES), capacity, load)

    ms = []
    for i in range(mentors):
        cap = rng.randint(1, 5)
        ms.append(person(i, Role.MENTOR, cap, rng.randint(0, cap - 1) if rng.random() < 0.2 else 0))
    es = [person(mentors + i, Role.MENTEE) for i in range(mentees)]
    everyone = [p.member_id for p in (*ms, *es)]
    forbidden = {frozenset(rng.sample(everyone, 2)) for _ in range(len(everyone) // 100)}
    forbidden |= {frozenset((rng.choice(es).member_id, rng.choice(ms).member_id)) for _ in range(mentees // 20)}
    return ms, es, frozenset(forbidden)


def dense_solve(ms: list[Candidate], es: list[Candidate], weights: Weights,
                forbidden: frozenset[frozenset[int]]) -> tuple[float, float]:
    """scipy's linear_sum_assignment on the dense capacity-expanded matrix: (pairs, score) and seconds."""
    start = time.perf_counter()
    open_ms = [m for m in ms if m.room > 0]
    grid = _grid(open_ms, es, weights, RULES, forbidden)
    owner, penalty = slots(open_ms, weights)
    cells = grid.values[:, owner] - penalty[None, :]
    ok = (grid.refused == 0)[:, owner]
    big = 2.0 + len(es) * (float(cells.max()) - min(0.0, float(cells.min())) + 1.0)
    rows, cols = linear_sum_assignment(np.where(ok, cells + big, 0.0), maximize=True)
    keep = ok[rows, cols]
    elapsed = time.perf_counter() - start
    return (int(keep.sum()), float(cells[rows[keep], cols[keep]].sum())), elapsed  # type: ignore[return-value]


def available_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def compare(mentees: int, mentors: int, seed: int) -> None:
    weights = Weights()
    ms, es, forbidden = program(mentees, mentors, seed)
    slots = sum(m.room for m in ms)
    print(f"instance: {mentees} mentees, {mentors} mentors, {slots} free slots, {len(forbidden)} forbidden pairs")
    start = time.perf_counter()
    proposal = match_mentorship(ms, es, weights, RULES, forbidden)
    ours = time.perf_counter() - start
    tracemalloc.start()  # a second run for the peak: tracing slows numpy's allocations down
    match_mentorship(ms, es, weights, RULES, forbidden)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pairs, total = objective(proposal, ms, weights)
    print(f"  match_mentorship: {ours:.2f} s, peak {peak / 2**20:.0f} MiB (traced); "
          f"{pairs} pairs, objective {total:.4f}, {len(proposal.unmatched)} unmatched")
    # The dense solve holds about five float64/bool copies of the expanded matrix at its peak.
    need = mentees * slots * (8 * 4 + 2)
    if need > 0.8 * available_bytes():
        print(f"  dense linear_sum_assignment: skipped, its {mentees} x {slots} matrix needs about "
              f"{need / 2**30:.1f} GiB, more than this machine has free ({available_bytes() / 2**30:.1f} GiB)")
        return
    (d_pairs, d_total), dense = dense_solve(ms, es, weights, forbidden)
    same = d_pairs == pairs and abs(d_total - total) <= 1e-6 * max(1.0, abs(total))
    print(f"  dense linear_sum_assignment: {dense:.2f} s; {d_pairs} pairs, objective {d_total:.4f} "
          f"({'the same' if same else 'DIFFERENT'})")
    print(f"  ratio match_mentorship / dense: {ours / dense:.2f}x")
    if not same:
        raise SystemExit("the objectives differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentees", type=int, default=10_000)
    parser.add_argument("--mentors", type=int, default=2_000)
    parser.add_argument("--small", default="2000x400", help="a second instance, MENTEESxMENTORS ('' for none)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    compare(args.mentees, args.mentors, args.seed)
    if args.small:
        small_mentees, small_mentors = (int(x) for x in args.small.split("x"))
        compare(small_mentees, small_mentors, args.seed)


if __name__ == "__main__":
    main()
