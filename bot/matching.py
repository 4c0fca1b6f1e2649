"""The matching engine: who should be paired with whom, exactly, under hard rules (issue 10).

Pure and synchronous: the caller reads profiles, capacities, block lists and never-again pairs, and
hands them in; nothing here touches the database or a platform. See docs/matching.md.

- `score`: how well two people fit, and why (shared topics, interests, languages, waking hours).
- `allowed`: the hard rule, if any, that refuses a pair.
- `match_mentorship`: the exact optimum over a whole program: first as many mentees matched as the
  rules and capacities allow, then the highest total score (with a small spread term).
- `match_peers`: the same among peers, as a maximum-cardinality, maximum-weight matching.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AbstractSet

from storage.models import Role

# numpy, scipy and networkx are imported in the functions that solve: every bot process imports this
# module (its rules and names), and most never match; loading them costs 80 MiB and 0.4 s at start.
if TYPE_CHECKING:
    import numpy as np

# Waking hours, local time: the overlap of two people's windows is how long both are awake.
WAKE_START = 8.0
WAKE_END = 22.0
WAKING = WAKE_END - WAKE_START

# The codes `allowed` answers with, in the order it checks them.
ROLES = "roles"
FORBIDDEN = "forbidden"
TZ_GAP = "tz_gap"
NO_SHARED_LANGUAGE = "no_shared_language"
RULES = (ROLES, FORBIDDEN, TZ_GAP, NO_SHARED_LANGUAGE)

# Why someone is left unmatched.
NO_ROOM = "no_room"                 # no mentor has a free slot at all
EXCLUDED = "excluded"               # every possible partner is refused by a hard rule (named in `rules`)
TAKEN = "taken"                     # allowed partners exist, but the optimum gave their room to others
FIRST_IN_LINE = "first_in_line"     # peers: left over (odd count, or partners taken): first next round

Forbidden = AbstractSet[frozenset[int]]


@dataclass(frozen=True)
class Candidate:
    """One person as matching sees them; tags already normalized, time zone resolved to an offset."""

    member_id: int
    role: Role
    topics: frozenset[str] = frozenset()      # mentors: what they can help with; mentees: what they want
    interests: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    utc_offset: float = 0.0                   # hours east of UTC, at the moment of matching
    capacity: int = 1                         # mentors: how many mentees at once
    load: int = 0                             # mentors: how many they have now

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.load)


@dataclass(frozen=True)
class Weights:
    """How much each part of the score counts; `spread` is taken off per slot a mentor already fills."""

    topics: float = 3.0
    interests: float = 1.0
    tz: float = 2.0
    languages: float = 1.0
    spread: float = 0.1


@dataclass(frozen=True)
class Rules:
    """A program's optional hard rules (roles and forbidden pairs always hold)."""

    max_tz_gap_hours: float | None = None
    require_shared_language: bool = False


@dataclass(frozen=True)
class Reasons:
    """Why a pair scores what it does, to tell the coordinator."""

    topics: tuple[str, ...]
    interests: tuple[str, ...]
    languages: tuple[str, ...]
    overlap_hours: float


@dataclass(frozen=True)
class Proposed:
    """A proposed pair: a mentor and a mentee, or two peers."""

    first: int
    second: int
    score: float
    reasons: Reasons


@dataclass(frozen=True)
class Unmatched:
    """Someone left out, with why (`NO_ROOM`, `EXCLUDED` with the rules, `TAKEN`, `FIRST_IN_LINE`)."""

    member_id: int
    reason: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proposal:
    """What the engine proposes: the pairs, then everyone left unmatched."""

    pairs: tuple[Proposed, ...]
    unmatched: tuple[Unmatched, ...] = field(default=())

    @property
    def total(self) -> float:
        return sum(p.score for p in self.pairs)


def tz_gap(a: float, b: float) -> float:
    """Hours between two UTC offsets around the clock (0 to 12)."""
    d = abs(a - b) % 24.0
    return min(d, 24.0 - d)


def waking_overlap(a: float, b: float) -> float:
    """Hours both are awake (WAKE_START to WAKE_END local) in a day, from their UTC offsets."""
    d = tz_gap(a, b)
    # Two windows on a 24-hour circle overlap on the near side and, past a 10-hour gap, wrap around too.
    return max(0.0, WAKING - d) + max(0.0, WAKING - (24.0 - d))


def _fraction(shared: int, whole: int) -> float:
    return shared / whole if whole else 0.0


def score(mentor: Candidate, mentee: Candidate, weights: Weights = Weights()) -> tuple[float, Reasons]:
    """How well a mentor suits a mentee (or two peers suit each other), and the reasons."""
    topics = mentor.topics & mentee.topics
    interests = mentor.interests & mentee.interests
    languages = mentor.languages & mentee.languages
    overlap = waking_overlap(mentor.utc_offset, mentee.utc_offset)
    # A mentee's topics are what they want: the share of it the mentor offers. Peers: shared of all.
    wanted = len(mentee.topics) if mentee.role == Role.MENTEE else len(mentor.topics | mentee.topics)
    value = (weights.topics * _fraction(len(topics), wanted)
             + weights.interests * _fraction(len(interests), len(mentor.interests | mentee.interests))
             + weights.tz * overlap / WAKING
             + weights.languages * (1.0 if languages else 0.0))
    return value, Reasons(tuple(sorted(topics)), tuple(sorted(interests)), tuple(sorted(languages)), overlap)


def allowed(a: Candidate, b: Candidate, rules: Rules = Rules(), forbidden: Forbidden = frozenset()) -> str | None:
    """None when a and b may be paired, else the code of the first hard rule that refuses them."""
    roles = {a.role, b.role}
    if a.member_id == b.member_id or roles not in ({Role.MENTOR, Role.MENTEE}, {Role.PEER}):
        return ROLES
    if frozenset((a.member_id, b.member_id)) in forbidden:
        return FORBIDDEN
    if rules.max_tz_gap_hours is not None and tz_gap(a.utc_offset, b.utc_offset) > rules.max_tz_gap_hours:
        return TZ_GAP
    if rules.require_shared_language and not (a.languages & b.languages):
        return NO_SHARED_LANGUAGE
    return None


# --- the vectorized scores and rules, over every (row, column) pair at once ---------------------------


def _incidence(people: Sequence[Candidate], attr: str, vocab: dict[str, int]) -> np.ndarray:
    import numpy as np
    out = np.zeros((len(people), max(1, len(vocab))), dtype=np.float64)
    for i, p in enumerate(people):
        for tag in getattr(p, attr):
            out[i, vocab[tag]] = 1.0
    return out


def _shared(rows: Sequence[Candidate], cols: Sequence[Candidate], attr: str) -> tuple[np.ndarray, np.ndarray]:
    """How many tags each pair shares, and how many the two have together (the union)."""
    vocab = {t: i for i, t in enumerate(sorted({t for p in (*rows, *cols) for t in getattr(p, attr)}))}
    a, b = _incidence(rows, attr, vocab), _incidence(cols, attr, vocab)
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    return inter, union


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    import numpy as np
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


@dataclass
class _Grid:
    """Scores and refusals of every (mentee row, mentor column), as `score` and `allowed` give them."""

    values: np.ndarray       # score of each pair
    refused: np.ndarray      # index into RULES + 1 of the first rule refusing the pair, 0 when allowed


def _grid(cols: Sequence[Candidate], rows: Sequence[Candidate], weights: Weights, rules: Rules,
          forbidden: Forbidden) -> _Grid:
    import numpy as np
    # The same arithmetic as `score` and `allowed`, on tag-incidence matrices (tests check they agree).
    t_inter, _ = _shared(rows, cols, "topics")
    i_inter, i_union = _shared(rows, cols, "interests")
    l_inter, _ = _shared(rows, cols, "languages")
    r_off = np.array([p.utc_offset for p in rows], dtype=np.float64)[:, None]
    c_off = np.array([p.utc_offset for p in cols], dtype=np.float64)[None, :]
    d = np.abs(r_off - c_off) % 24.0
    gap = np.minimum(d, 24.0 - d)
    overlap = np.maximum(0.0, WAKING - gap) + np.maximum(0.0, WAKING - (24.0 - gap))
    wanted = np.broadcast_to(np.array([len(p.topics) for p in rows], dtype=np.float64)[:, None], t_inter.shape)
    values = (weights.topics * _div(t_inter, wanted.copy())
              + weights.interests * _div(i_inter, i_union)
              + weights.tz * overlap / WAKING
              + weights.languages * (l_inter > 0))
    refused = np.zeros(values.shape, dtype=np.int8)
    if rules.require_shared_language:
        refused[l_inter == 0] = RULES.index(NO_SHARED_LANGUAGE) + 1
    if rules.max_tz_gap_hours is not None:
        refused[gap > rules.max_tz_gap_hours] = RULES.index(TZ_GAP) + 1
    r_at = {p.member_id: i for i, p in enumerate(rows)}
    c_at = {p.member_id: j for j, p in enumerate(cols)}
    for pair in forbidden:
        if len(pair) != 2:
            continue
        x, y = tuple(pair)
        for u, v in ((x, y), (y, x)):
            if u in r_at and v in c_at:
                refused[r_at[u], c_at[v]] = RULES.index(FORBIDDEN) + 1
    r_ids = np.array([p.member_id for p in rows])[:, None]
    c_ids = np.array([p.member_id for p in cols])[None, :]
    refused[r_ids == c_ids] = RULES.index(ROLES) + 1
    return _Grid(values, refused)


def _excluded(refused_row: np.ndarray) -> tuple[str, ...] | None:
    """None when some partner is allowed, else the rules that refuse every one of them."""
    if refused_row.size == 0 or (refused_row == 0).any():
        return None
    return tuple(RULES[k - 1] for k in sorted(set(refused_row.tolist())))


# --- mentorship ----------------------------------------------------------------------------------------

# Below this share of allowed cells in the capacity-expanded matrix the sparse solver is faster; above it
# the dense one (measured with bench/matching.py's programs: at 17% sparse took 0.73x dense's time, at 39% 1.1x).
SPARSE_BELOW = 0.3


def match_mentorship(mentors: Sequence[Candidate], mentees: Sequence[Candidate], weights: Weights = Weights(),
                     rules: Rules = Rules(), forbidden: Forbidden = frozenset()) -> Proposal:
    """The exact optimum: as many mentees matched as rules and capacities allow, then the best total score."""
    for who, role in ((mentors, Role.MENTOR), (mentees, Role.MENTEE)):
        if any(p.role != role for p in who):
            raise ValueError(f"match_mentorship wants only {role.value}s there")
    open_mentors = [m for m in mentors if m.room > 0]
    if not mentees:
        return Proposal(())
    if not open_mentors:
        return Proposal((), tuple(Unmatched(p.member_id, NO_ROOM) for p in mentees))
    grid = _grid(open_mentors, mentees, weights, rules, forbidden)
    owner, penalty = slots(open_mentors, weights)
    ok = grid.refused == 0
    matched = _assign(grid.values, ok, owner, penalty)
    pairs = []
    for i, j in matched:
        value, why = score(open_mentors[j], mentees[i], weights)
        pairs.append(Proposed(open_mentors[j].member_id, mentees[i].member_id, value, why))
    taken = {i for i, _ in matched}
    unmatched = []
    for i, p in enumerate(mentees):
        if i in taken:
            continue
        names = _excluded(grid.refused[i])
        unmatched.append(Unmatched(p.member_id, EXCLUDED, names) if names else Unmatched(p.member_id, TAKEN))
    return Proposal(tuple(pairs), tuple(unmatched))


def slots(mentors: Sequence[Candidate], weights: Weights) -> tuple[np.ndarray, np.ndarray]:
    """One column per free slot: its mentor's index, and its spread term (a mentor's k-th mentee overall,
    counting those they already have, costs k spreads, so mentees spread across mentors)."""
    import numpy as np
    owner = np.repeat(np.arange(len(mentors)), [m.room for m in mentors])
    penalty = weights.spread * np.concatenate([np.arange(m.load, max(m.load, m.capacity), dtype=np.float64)
                                               for m in mentors] or [np.zeros(0)])
    return owner, penalty


def _assign(values: np.ndarray, ok: np.ndarray, owner: np.ndarray, penalty: np.ndarray) -> list[tuple[int, int]]:
    """Rows to mentor columns through their slots: max cardinality first, then max sum of value - penalty."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    live = np.flatnonzero(ok.any(axis=1))          # rows with no allowed column cannot be matched anyway
    if live.size == 0:
        return []
    vals, allow = values[live], ok[live]
    hi = float(vals.max(where=allow, initial=-np.inf))
    lo = float(vals.min(where=allow, initial=np.inf)) - float(penalty.max(initial=0.0))
    # A match is worth more than any difference in score the other rows could make up: cardinality first.
    big = 2.0 + live.size * (hi - min(0.0, lo) + 1.0)
    cells_ok = allow[:, owner]                    # the capacity-expanded matrix: one column per slot
    if allow.sum(axis=0)[owner].sum() < SPARSE_BELOW * cells_ok.size:
        r, c = np.nonzero(cells_ok)
        rows, cols = _sparse(live.size, owner.size, r, c, vals[r, owner[c]] - penalty[c] + big)
    else:
        gains = np.where(allow, vals + big, 0.0)[:, owner]   # refused cells are worth nothing
        np.subtract(gains, penalty, out=gains, where=cells_ok)
        rows, cols = linear_sum_assignment(gains, maximize=True)
        keep = cells_ok[rows, cols]
        rows, cols = rows[keep], cols[keep]
    return sorted((int(live[r]), int(owner[c])) for r, c in zip(rows, cols))


def _sparse(n: int, s: int, r: np.ndarray, c: np.ndarray, gains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse solve of n rows by s slot columns with the given edges (all gains positive)."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching
    # Each row also gets a column of its own meaning "unmatched" (gain 1, below any match), so a full
    # matching always exists, as min_weight_full_bipartite_matching requires.
    data = np.concatenate([gains, np.ones(n)])
    rr = np.concatenate([r, np.arange(n)])
    cc = np.concatenate([c, s + np.arange(n)])
    graph = csr_matrix((data, (rr, cc)), shape=(n, s + n))
    rows, cols = min_weight_full_bipartite_matching(graph, maximize=True)
    keep = cols < s
    return rows[keep], cols[keep]


# --- peers ---------------------------------------------------------------------------------------------

# networkx compares weights exactly: integers in millionths keep float noise out of the blossom steps.
_SCALE = 1_000_000


def match_peers(peers: Sequence[Candidate], weights: Weights = Weights(), rules: Rules = Rules(),
                forbidden: Forbidden = frozenset(), first_in_line: AbstractSet[int] = frozenset()) -> Proposal:
    """The most pairs among peers the rules allow; then as many of `first_in_line` (left over last round)
    as possible; then the best total score. Whoever is left over is first in line next round."""
    import networkx as nx
    if any(p.role != Role.PEER for p in peers):
        raise ValueError("match_peers wants only peers")
    graph = nx.Graph()
    graph.add_nodes_from(range(len(peers)))
    top = max((score(p, p, weights)[0] for p in peers), default=0.0)  # no pair scores above a perfect one
    bonus = round((top + 1.0) * _SCALE) * max(1, len(peers))
    refusals: list[set[str]] = [set() for _ in peers]
    for i, a in enumerate(peers):
        for j in range(i + 1, len(peers)):
            b = peers[j]
            why = allowed(a, b, rules, forbidden)
            if why is None:
                # A matched first-in-line peer outweighs any difference in score the others could make up.
                priority = (a.member_id in first_in_line) + (b.member_id in first_in_line)
                graph.add_edge(i, j, weight=round(score(a, b, weights)[0] * _SCALE) + priority * bonus)
            else:
                refusals[i].add(why)
                refusals[j].add(why)
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    pairs = []
    for i, j in sorted(tuple(sorted(e)) for e in matching):
        value, why = score(peers[i], peers[j], weights)
        pairs.append(Proposed(peers[i].member_id, peers[j].member_id, value, why))
    done = {i for e in matching for i in e}
    unmatched = []
    for i, p in enumerate(peers):
        if i in done:
            continue
        if graph.degree(i) == 0 and refusals[i]:
            unmatched.append(Unmatched(p.member_id, EXCLUDED, tuple(r for r in RULES if r in refusals[i])))
        else:
            unmatched.append(Unmatched(p.member_id, FIRST_IN_LINE))
    return Proposal(tuple(pairs), tuple(unmatched))


def objective(proposal: Proposal, mentors: Collection[Candidate], weights: Weights) -> tuple[int, float]:
    """What `match_mentorship` maximizes, in order: pairs, then total score less the spread terms."""
    load = {m.member_id: m.load for m in mentors}
    spread = 0.0
    for p in proposal.pairs:
        spread += weights.spread * load[p.first]
        load[p.first] += 1
    return len(proposal.pairs), proposal.total - spread
