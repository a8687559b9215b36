"""Which query each annotator gets: never one they answered, leases, overlap for agreement."""

from __future__ import annotations

import random

import pytest

from robopref.app.assignment import Assigner, answered_by, in_overlap
from robopref.data import SegmentRef
from robopref.prefs import Label, Query


def queries(n: int) -> list[Query]:
    seg = lambda i: SegmentRef("d.hdf5", f"demo_{i}", 0, 5)  # noqa: E731
    return [Query(id=i, segments=(seg(2 * i), seg(2 * i + 1)), created=0.0) for i in range(1, n + 1)]


def label(qid: int, who: str, lid: int = 1) -> Label:
    return Label(id=lid, query_id=qid, annotator=who, source="human", kind="preference", value=1.0,
                 ranking=None, confidence=1.0, timestamp=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_overlap_set_is_stable_and_about_the_asked_fraction():
    members = [in_overlap(i, 0.25) for i in range(1, 4001)]
    assert 0.22 < sum(members) / 4000 < 0.28
    assert members == [in_overlap(i, 0.25) for i in range(1, 4001)]
    assert not any(in_overlap(i, 0.0) for i in range(1, 500)) and all(in_overlap(i, 1.0) for i in range(1, 500))


def test_newest_first_then_oldest_first():
    qs = queries(5)
    assert Assigner(order="newest").assign("ana", qs, {}).query.id == 5
    assert Assigner(order="oldest").assign("ana", qs, {}).query.id == 1


def test_never_a_query_already_answered_and_the_lease_resumes():
    qs = queries(4)
    a = Assigner(overlap=0.0, order="oldest")
    first = a.assign("ana", qs, {})
    assert first.query.id == 1 and first.available == 4
    assert a.assign("ana", qs, {}).query.id == 1  # a reload: same query
    a.release("ana", 1)
    picked = a.assign("ana", qs, answered_by([label(1, "ana")]))
    assert picked.query.id == 2 and picked.available == 3


def test_two_people_at_once_get_different_queries_without_overlap():
    qs = queries(3)
    a = Assigner(overlap=0.0, order="oldest")
    assert a.assign("ana", qs, {}).query.id == 1
    assert a.assign("bob", qs, {}).query.id == 2  # query 1 is leased to ana
    assert a.assign("cem", qs, {}).query.id == 3
    assert a.assign("dan", qs, {}).query is None  # every query has its one person


def test_leases_expire():
    clock = Clock()
    qs = queries(1)
    a = Assigner(overlap=0.0, lease_s=60, clock=clock)
    assert a.assign("ana", qs, {}).query.id == 1
    assert a.assign("bob", qs, {}).query is None
    clock.now += 61  # ana walked away
    assert a.assign("bob", qs, {}).query.id == 1


def test_overlap_queries_get_a_second_person_first():
    qs = queries(40)
    a = Assigner(overlap=0.3, overlap_annotators=2, order="newest")
    shared = [q.id for q in qs if in_overlap(q.id, 0.3)]
    single = [q.id for q in qs if not in_overlap(q.id, 0.3)]
    done = answered_by([label(shared[0], "ana"), label(single[0], "ana", 2)])
    picked = a.assign("bob", qs, done)
    assert picked.query.id == shared[0]  # completing an agreement pair comes first
    # ana's single-person query is never offered to bob
    a2 = Assigner(overlap=0.3, overlap_annotators=2)
    offered = set()
    answers = answered_by([label(q, "ana") for q in single] + [label(q, "ana") for q in shared])
    while (p := a2.assign("bob", qs, answers)).query is not None:
        offered.add(p.query.id)
        answers.setdefault(p.query.id, set()).add("bob")
    assert offered == set(shared)
    # and with two answers each, a third person gets nothing
    assert a2.assign("cem", qs, answers).query is None


def test_undone_query_is_handed_back_first():
    qs = queries(3)
    a = Assigner(overlap=0.0, order="oldest")
    a.hand_back("ana", 3)
    assert a.assign("ana", qs, {}).query.id == 3


def test_unshowable_queries_are_never_assigned():
    qs = queries(3)
    a = Assigner(showable=lambda q: q.id != 1, order="oldest")
    assert a.assign("ana", qs, {}).query.id == 2


@pytest.mark.parametrize("seed", range(40))
def test_a_pool_kept_current_assigns_like_a_plain_mapping(seed):
    """The server's pool, updated answer by answer (undos, new queries, foreign answers,
    expiring leases), must pick exactly what a mapping rebuilt for each call picks."""
    rng = random.Random(seed)
    every = queries(70)
    hidden = {q.id for q in every if rng.random() < 0.1}
    shown = len(every) - 20
    settings = dict(overlap=rng.choice([0.0, 0.3, 1.0]), overlap_annotators=rng.choice([2, 3]), lease_s=50,
                    order=rng.choice(["newest", "oldest"]), showable=lambda q: q.id not in hidden)
    clock_a, clock_b = Clock(), Clock()
    plain, kept = Assigner(clock=clock_a, **settings), Assigner(clock=clock_b, **settings)
    pool, answers = kept.new_pool(), {}
    done: list[tuple[int, str]] = []

    def answer(qid: int, who: str) -> None:
        answers.setdefault(qid, set()).add(who)
        pool.add(qid, who)

    for _ in range(250):
        who, roll = rng.choice("abcde"), rng.random()
        if roll < 0.55:
            qs = every[:shown]
            a, b = plain.assign(who, qs, {q: set(w) for q, w in answers.items()}), kept.assign(who, qs, pool)
            assert (a.query, a.available, a.upcoming) == (b.query, b.available, b.upcoming)
            if a.query is not None and rng.random() < 0.7:
                answer(a.query.id, who)
                done.append((a.query.id, who))
                plain.release(who, a.query.id), kept.release(who, a.query.id)
        elif roll < 0.65 and done:  # an undo
            qid, by = done.pop(rng.randrange(len(done)))
            answers[qid].discard(by)
            answers = {q: w for q, w in answers.items() if w}
            pool.remove(qid, by)
            plain.hand_back(by, qid), kept.hand_back(by, qid)
        elif roll < 0.7:  # new queries in the store
            shown = min(len(every), shown + rng.randint(1, 3))
        elif roll < 0.75:  # leases run out
            clock_a.now += 60
            clock_b.now += 60
        elif roll < 0.8:  # another server's annotator
            answer(rng.choice(every).id, "zoe")


@pytest.mark.parametrize("kwargs, message", [({"overlap": -0.1}, "annotator_overlap"), ({"overlap_annotators": 1}, "overlap_annotators"),
                                             ({"order": "random"}, "order")])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Assigner(**kwargs)
