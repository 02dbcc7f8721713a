"""The seed convention the README states: an int seed repeats its noise; a SeedSequence is
spawned from, so the same object gives independent streams on every call."""

import numpy as np

from numerics.sim.ensemble import replica_generators


def test_an_int_seed_repeats_its_noise():
    a = [g.random(3) for g in replica_generators(7, 2)]
    b = [g.random(3) for g in replica_generators(7, 2)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_the_same_seed_sequence_gives_fresh_streams_and_an_int_drawn_from_it_repeats():
    ss = np.random.SeedSequence(5)
    first = replica_generators(ss, 2)[0].random(3)
    second = replica_generators(ss, 2)[0].random(3)
    assert not np.array_equal(first, second)
    frozen = int(np.random.SeedSequence(5).generate_state(1)[0])
    assert np.array_equal(replica_generators(frozen, 1)[0].random(3),
                          replica_generators(frozen, 1)[0].random(3))
