"""The matching engine (bot/matching.py): exact against brute force, never breaking a hard rule or a
capacity, never worse than a greedy pass, and explaining its pairs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.matching as matching
from bot.tags import normalize_tags
from bot.matching import (
    EXCLUDED,
    FIRST_IN_LINE,
    FORBIDDEN,
    NO_ROOM,
    NO_SHARED_LANGUAGE,
    ROLES,
    TAKEN,
    TZ_GAP,
    Candidate,
    Proposal,
    Rules,
    Weights,
    allowed,
    match_mentorship,
    match_peers,
    objective,
    score,
    waking_overlap,
)
from storage.models import Role

EPS = 1e-6
Forbidden = frozenset[frozenset[int]]


def _tags(text: str) -> frozenset[str]:
    return frozenset(normalize_tags(text.split(",")))


def mentor(member_id: int, topics: str = "", *, capacity: int = 1, load: int = 0, offset: float = 0.0,
           languages: str = "en", interests: str = "") -> Candidate:
    return Candidate(member_id, Role.MENTOR, _tags(topics), _tags(interests), _tags(languages), offset, capacity, load)


def mentee(member_id: int, topics: str = "", *, offset: float = 0.0, languages: str = "en",
           interests: str = "") -> Candidate:
    return Candidate(member_id, Role.MENTEE, _tags(topics), _tags(interests), _tags(languages), offset)


# --- brute force and greedy, the references ------------------------------------------------------------


def spread_cost(mentors: Sequence[Candidate], chosen: Sequence[int | None], weights: Weights) -> float:
    """The spread terms of an assignment (mentee index -> mentor index or None)."""
    counts = Counter(j for j in chosen if j is not None)
    return sum(weights.spread * sum(range(mentors[j].load, mentors[j].load + k)) for j, k in counts.items())


def brute_mentorship(mentors: Sequence[Candidate], mentees: Sequence[Candidate], weights: Weights, rules: Rules,
                     forbidden: Forbidden) -> tuple[int, float]:
    """The best (pairs, score less spread) over every assignment that keeps the rules and capacities."""
    options = [[None] + [j for j, m in enumerate(mentors) if allowed(m, e, rules, forbidden) is None]
               for e in mentees]
    best = (0, 0.0)

    def walk(i: int, chosen: list[int | None], room: list[int]) -> None:
        nonlocal best
        if i == len(mentees):
            pairs = sum(j is not None for j in chosen)
            total = sum(score(mentors[j], mentees[k], weights)[0] for k, j in enumerate(chosen) if j is not None)
            value = (pairs, total - spread_cost(mentors, chosen, weights))
            if value[0] > best[0] or (value[0] == best[0] and value[1] > best[1]):
                best = value
            return
        for j in options[i]:
            if j is not None and room[j] == 0:
                continue
            if j is not None:
                room[j] -= 1
            walk(i + 1, [*chosen, j], room)
            if j is not None:
                room[j] += 1

    walk(0, [], [m.room for m in mentors])
    return best


def greedy_mentorship(mentors: Sequence[Candidate], mentees: Sequence[Candidate], weights: Weights, rules: Rules,
                      forbidden: Forbidden) -> tuple[int, float]:
    """Best-scoring allowed pair first, while room lasts: what an exact engine must never do worse than."""
    edges = sorted(((score(m, e, weights)[0], j, i) for j, m in enumerate(mentors) for i, e in enumerate(mentees)
                    if allowed(m, e, rules, forbidden) is None), reverse=True)
    room = [m.room for m in mentors]
    chosen: list[int | None] = [None] * len(mentees)
    for _, j, i in edges:
        if chosen[i] is None and room[j] > 0:
            chosen[i], room[j] = j, room[j] - 1
    total = sum(score(mentors[j], mentees[i], weights)[0] for i, j in enumerate(chosen) if j is not None)
    return sum(j is not None for j in chosen), total - spread_cost(mentors, chosen, weights)


def peer_matchings(n: int, edges: set[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    """Every matching of the graph (including the empty one)."""
    if n == 0:
        yield []
        return

    def walk(free: list[int]) -> Iterator[list[tuple[int, int]]]:
        if not free:
            yield []
            return
        first, rest = free[0], free[1:]
        yield from walk(rest)
        for k, other in enumerate(rest):
            if (first, other) in edges:
                for tail in walk(rest[:k] + rest[k + 1:]):
                    yield [(first, other), *tail]

    yield from walk(list(range(n)))


def brute_peers(peers: Sequence[Candidate], weights: Weights, rules: Rules, forbidden: Forbidden) -> tuple[int, float]:
    edges = {(i, j) for i in range(len(peers)) for j in range(i + 1, len(peers))
             if allowed(peers[i], peers[j], rules, forbidden) is None}
    return max((len(m), sum(score(peers[i], peers[j], weights)[0] for i, j in m))
               for m in peer_matchings(len(peers), edges))


def at_least(ours: tuple[int, float], other: tuple[int, float]) -> bool:
    return ours[0] > other[0] or (ours[0] == other[0] and ours[1] >= other[1] - EPS)


def check_rules(proposal: Proposal, people: dict[int, Candidate], rules: Rules, forbidden: Forbidden) -> None:
    """No pair breaks a hard rule, nobody is in two pairs, no mentor goes over capacity."""
    for p in proposal.pairs:
        assert allowed(people[p.first], people[p.second], rules, forbidden) is None
    matched = [p.second for p in proposal.pairs]
    assert len(matched) == len(set(matched))
    for member_id, n in Counter(p.first for p in proposal.pairs).items():
        if people[member_id].role == Role.MENTOR:
            assert n <= people[member_id].room
    seen = [*matched, *(u.member_id for u in proposal.unmatched)]
    assert len(seen) == len(set(seen))


# --- generated instances -------------------------------------------------------------------------------

TAGS = ("python", "go", "rust", "career", "design")
LANGS = ("en", "de", "fr")
OFFSETS = (-8.0, -5.0, 0.0, 1.0, 5.5, 9.0, 12.0)


@st.composite
def people(draw: st.DrawFn, role: Role, first_id: int, low: int, high: int) -> list[Candidate]:
    n = draw(st.integers(low, high))
    out = []
    for k in range(n):
        capacity = draw(st.integers(0, 3)) if role == Role.MENTOR else 1
        load = draw(st.integers(0, capacity)) if role == Role.MENTOR else 0
        out.append(Candidate(first_id + k, role, frozenset(draw(st.sets(st.sampled_from(TAGS), max_size=3))),
                             frozenset(draw(st.sets(st.sampled_from(TAGS), max_size=2))),
                             frozenset(draw(st.sets(st.sampled_from(LANGS), max_size=2))),
                             draw(st.sampled_from(OFFSETS)), capacity, load))
    return out


rules_st = st.builds(Rules, st.sampled_from([None, 3.0, 6.0]), st.booleans())
weights_st = st.builds(Weights, st.sampled_from([0.0, 3.0]), st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 2.0]),
                       st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 0.1, 0.5]))


def forbidden_st(ids: list[int]) -> st.SearchStrategy[Forbidden]:
    if len(ids) < 2:
        return st.just(frozenset())
    pair = st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True).map(frozenset)
    return st.frozensets(pair, max_size=6)


@st.composite
def mentorship_instance(draw: st.DrawFn, mentors_max: int, mentees_max: int) -> tuple:
    ms = draw(people(Role.MENTOR, 0, 0, mentors_max))
    es = draw(people(Role.MENTEE, 100, 0, mentees_max))
    forbidden = draw(forbidden_st([p.member_id for p in (*ms, *es)]))
    return ms, es, draw(weights_st), draw(rules_st), forbidden


SOLVERS = [pytest.param(0.0, id="dense"), pytest.param(1.1, id="sparse")]


@pytest.mark.parametrize("sparse_below", SOLVERS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instance=mentorship_instance(3, 5))
def test_mentorship_equals_brute_force(monkeypatch: pytest.MonkeyPatch, sparse_below: float, instance: tuple) -> None:
    monkeypatch.setattr(matching, "SPARSE_BELOW", sparse_below)
    ms, es, weights, rules, forbidden = instance
    proposal = match_mentorship(ms, es, weights, rules, forbidden)
    check_rules(proposal, {p.member_id: p for p in (*ms, *es)}, rules, forbidden)
    ours = objective(proposal, ms, weights)
    best = brute_mentorship(ms, es, weights, rules, forbidden)
    assert ours[0] == best[0] and ours[1] == pytest.approx(best[1], abs=EPS)


@pytest.mark.parametrize("sparse_below", SOLVERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instance=mentorship_instance(12, 40))
def test_mentorship_keeps_the_rules_and_beats_greedy(monkeypatch: pytest.MonkeyPatch, sparse_below: float,
                                                     instance: tuple) -> None:
    monkeypatch.setattr(matching, "SPARSE_BELOW", sparse_below)
    ms, es, weights, rules, forbidden = instance
    proposal = match_mentorship(ms, es, weights, rules, forbidden)
    check_rules(proposal, {p.member_id: p for p in (*ms, *es)}, rules, forbidden)
    assert len(proposal.pairs) + len(proposal.unmatched) == len(es)
    assert at_least(objective(proposal, ms, weights), greedy_mentorship(ms, es, weights, rules, forbidden))


@settings(max_examples=150, deadline=None)
@given(ps=people(Role.PEER, 0, 0, 7), weights=weights_st, rules=rules_st, data=st.data())
def test_peers_equal_brute_force(ps: list[Candidate], weights: Weights, rules: Rules, data: st.DataObject) -> None:
    forbidden = data.draw(forbidden_st([p.member_id for p in ps]))
    proposal = match_peers(ps, weights, rules, forbidden)
    by_id = {p.member_id: p for p in ps}
    for p in proposal.pairs:
        assert allowed(by_id[p.first], by_id[p.second], rules, forbidden) is None
    seen = [x for p in proposal.pairs for x in (p.first, p.second)] + [u.member_id for u in proposal.unmatched]
    assert sorted(seen) == sorted(by_id)
    best = brute_peers(ps, weights, rules, forbidden)
    assert len(proposal.pairs) == best[0] and proposal.total == pytest.approx(best[1], abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(instance=mentorship_instance(6, 10))
def test_the_vectorized_grid_agrees_with_score_and_allowed(instance: tuple) -> None:
    ms, es, weights, rules, forbidden = instance
    grid = matching._grid(ms, es, weights, rules, forbidden)
    for i, e in enumerate(es):
        for j, m in enumerate(ms):
            assert grid.values[i, j] == pytest.approx(score(m, e, weights)[0], abs=1e-9)
            refused = allowed(m, e, rules, forbidden)
            assert grid.refused[i, j] == (0 if refused is None else matching.RULES.index(refused) + 1)


# --- examples ------------------------------------------------------------------------------------------


def test_reasons_name_the_shared_topics_interests_languages_and_hours() -> None:
    value, why = score(mentor(1, "Python, go,  Career", interests="chess,Hiking", languages="en,de", offset=1),
                       mentee(2, "python,career,rust", interests="hiking", languages="de", offset=-5))
    assert why.topics == ("career", "python")
    assert why.interests == ("hiking",)
    assert why.languages == ("de",)
    assert why.overlap_hours == 8.0
    assert value == pytest.approx(3 * 2 / 3 + 1 * 1 / 2 + 2 * 8 / 14 + 1)
    proposal = match_mentorship([mentor(1, "python")], [mentee(2, "python,rust")])
    assert proposal.pairs[0].reasons.topics == ("python",)


def test_waking_hours_overlap_around_the_clock() -> None:
    assert waking_overlap(0, 0) == 14
    assert waking_overlap(0, 6) == 8
    assert waking_overlap(-8, 9) == waking_overlap(0, 7) == 7
    assert waking_overlap(0, 12) == 4   # 8-10 and 20-22 UTC, around midnight
    assert waking_overlap(-10, 13) == 13


def test_allowed_names_the_first_rule_that_refuses() -> None:
    a, b = mentor(1, offset=-8, languages="en"), mentee(2, offset=9, languages="fr")
    assert allowed(a, b) is None
    assert allowed(a, mentor(3)) == ROLES
    assert allowed(a, Candidate(1, Role.MENTEE)) == ROLES
    assert allowed(a, b, forbidden=frozenset({frozenset((2, 1))})) == FORBIDDEN
    assert allowed(a, b, Rules(max_tz_gap_hours=6)) == TZ_GAP
    assert allowed(a, b, Rules(require_shared_language=True)) == NO_SHARED_LANGUAGE


def test_cardinality_comes_before_score() -> None:
    # The best pair (1 with 10, score 7) would leave 11 alone: two weak pairs (about 1.6 each) instead.
    ms = [mentor(1, "python,go", interests="chess"), mentor(2, "rust", languages="de", offset=12)]
    es = [mentee(10, "python,go", interests="chess", languages="en,de"), mentee(11, "rust", offset=12)]
    rules = Rules(require_shared_language=True)
    assert score(ms[0], es[0])[0] == pytest.approx(7)
    got = {(p.first, p.second) for p in match_mentorship(ms, es, rules=rules).pairs}
    assert got == {(1, 11), (2, 10)}


def test_mentees_spread_across_mentors() -> None:
    ms = [mentor(1, "python", capacity=3), mentor(2, "python", capacity=3)]
    es = [mentee(10 + k, "python") for k in range(4)]
    assert Counter(p.first for p in match_mentorship(ms, es).pairs) == {1: 2, 2: 2}
    busy = [mentor(1, "python", capacity=3, load=2), mentor(2, "python", capacity=3)]
    assert Counter(p.first for p in match_mentorship(busy, es[:2]).pairs) == {2: 2}


def test_unmatched_mentees_say_why() -> None:
    full = [mentor(1, "python", capacity=1, load=1)]
    assert match_mentorship(full, [mentee(10)]).unmatched[0].reason == NO_ROOM
    ms = [mentor(1, "python", offset=-8), mentor(2, "python", languages="fr", offset=-3)]
    es = [mentee(10, "python", offset=9), mentee(11, "python", offset=-8), mentee(12, "python", offset=-8)]
    proposal = match_mentorship(ms, es, rules=Rules(max_tz_gap_hours=6, require_shared_language=True),
                                forbidden=frozenset({frozenset((1, 12))}))
    assert [(p.first, p.second) for p in proposal.pairs] == [(1, 11)]
    why = {u.member_id: (u.reason, u.rules) for u in proposal.unmatched}
    assert why == {10: (EXCLUDED, (TZ_GAP,)), 12: (EXCLUDED, (FORBIDDEN, NO_SHARED_LANGUAGE))}
    crowded = match_mentorship([mentor(1, "python")], [mentee(10, "python"), mentee(11, "go")])
    assert [(u.member_id, u.reason) for u in crowded.unmatched] == [(11, TAKEN)]


def test_peers_left_over_are_first_in_line_or_excluded() -> None:
    def peer(member_id: int, languages: str = "en") -> Candidate:
        return Candidate(member_id, Role.PEER, frozenset({"python"}), languages=frozenset({languages}))

    proposal = match_peers([peer(1), peer(2), peer(3), peer(4, "fr")], rules=Rules(require_shared_language=True))
    assert len(proposal.pairs) == 1
    why = {u.member_id: u.reason for u in proposal.unmatched}
    assert why[4] == EXCLUDED and FIRST_IN_LINE in why.values()
    assert match_peers([peer(1)]).unmatched[0].reason == FIRST_IN_LINE


def test_a_peer_first_in_line_is_matched_before_a_better_scoring_pair() -> None:
    def peer(member_id: int, topics: str, offset: float = 0.0) -> Candidate:
        return Candidate(member_id, Role.PEER, _tags(topics), utc_offset=offset)

    # 1 & 2 fit perfectly; 3 shares nothing with anyone and lives far away: left over on score alone.
    peers = [peer(1, "python,go"), peer(2, "python,go"), peer(3, "cooking", offset=10.0)]
    assert {u.member_id for u in match_peers(peers).unmatched} == {3}
    again = match_peers(peers, first_in_line={3})
    assert 3 in {m for p in again.pairs for m in (p.first, p.second)} and len(again.pairs) == 1
    # Priority never costs a pair: with four peers all are matched, 3 included.
    assert len(match_peers([*peers, peer(4, "rust")], first_in_line={3}).pairs) == 2


def test_wrong_roles_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        match_mentorship([mentee(1)], [mentee(2)])
    with pytest.raises(ValueError):
        match_peers([mentor(1)])
