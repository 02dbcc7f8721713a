"""numerics.sim.generated: the simulator generated from a rule's one definition.

* it equals the hand-written LMS and perceptron simulators step for step on the same random
  numbers;
* Monte Carlo of its update at hypothesis-drawn weights equals the derived drift and second
  moment (z-scores, Sidak over every entry and draw), and a doubled drift is rejected;
* bad input (non-PSD covariance from parameter values, non-finite update) is named.
"""

import zlib

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.rules import compiled_rule
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.generated import GeneratedRule, NonFiniteUpdateError
from numerics.sim.lms import LmsRule
from numerics.sim.perceptron import PerceptronRule
from theory.rule_library import (
    bcm_rule,
    hebbian_decay_rule,
    lms_rule,
    oja_rule,
    perceptron_rule,
    sign_lms_rule,
)
from theory.rules import Component, LearningRule, Mixture, Normal, derive
from validate.compare import sidak_bound

finite = dict(allow_nan=False, allow_infinity=False)


def _lms_values(n, R, wo, s2):
    vals = {f"R_{i}_{j}": R[i, j] for i in range(n) for j in range(i, n)}
    vals.update({f"wo{i}": wo[i] for i in range(n)})
    vals["s2"] = s2
    return vals


@pytest.mark.parametrize("n", [1, 3])
def test_generated_lms_equals_the_hand_written_simulator(n):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((n, n))
    R = A @ A.T / n + 0.3 * np.eye(n)
    wo = rng.standard_normal(n)
    gen = GeneratedRule(lms_rule(n), _lms_values(n, R, wo, 0.2), lr=0.05)
    hand = LmsRule(R, wo, 0.05, 0.2)
    assert gen.noise_dim == hand.noise_dim
    kw = dict(replicas=50, seed=7, record_steps=[1, 10, 100, 300], keep_samples=True,
              progress=False)
    a = simulate_ensemble(hand, np.zeros(n), 300, **kw)
    b = simulate_ensemble(gen, np.zeros(n), 300, **kw)
    np.testing.assert_allclose(b.samples, a.samples, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", ["sl", "rl"])
def test_generated_perceptron_equals_the_hand_written_simulator(kind):
    """Same label, input and action random numbers; the hand-written simulator also draws the
    action uniform for SL, which the generated one (no action) does not need."""
    mu, lam, lr = np.array([0.8, -0.3]), 0.1, 0.05
    hand = PerceptronRule(kind, mu, 0.25 * np.eye(2), lr=lr, lam=lam)
    gen = GeneratedRule(perceptron_rule(kind, 2, numeric_sigma=True),
                        {"mu0": mu[0], "mu1": mu[1], "lambda": lam}, lr=lr)
    rng = np.random.default_rng(11)
    R = 64
    w_hand = rng.standard_normal((R, 2))
    w_gen = w_hand.copy()
    for _ in range(400):
        noise = np.concatenate([rng.random((R, 1)), rng.standard_normal((R, 2)),
                                rng.random((R, 1))], 1)
        w_hand = hand.step(w_hand, noise)
        w_gen = gen.step(w_gen, noise[:, :gen.noise_dim])
    np.testing.assert_allclose(w_gen, w_hand, rtol=1e-11, atol=1e-12)


# ----------------------------------------------------------------- Monte Carlo at drawn w

GALLERY_RULES = {
    "oja": (oja_rule, 2, 2.0),
    "hebb-decay": (hebbian_decay_rule, 2, 2.0),
    "bcm": (bcm_rule, 3, 1.5),
    "sign-lms": (sign_lms_rule, 2, 2.0),
    "perceptron-sl": (lambda: perceptron_rule("sl", 2, True), 2, 2.0),
    "perceptron-rl": (lambda: perceptron_rule("rl", 2, True), 2, 2.0),
}
_PERCEPTRON = {"mu0": 1.0, "mu1": 0.4, "lambda": 0.1}
EXAMPLES = 4
SAMPLES = 20000


def _mc_z(name, w, seed, scale=1.0):
    factory, n, _ = GALLERY_RULES[name]
    rule = factory()
    vals = _PERCEPTRON if name.startswith("perceptron") else None
    c = compiled_rule(derive(rule), vals)
    gen = GeneratedRule(rule, c.values, lr=1e-3)
    f = gen.sample_updates(np.asarray(w), SAMPLES, np.random.default_rng(seed))
    iu = np.triu_indices(n)
    prod = f[:, iu[0]] * f[:, iu[1]]
    z_d = _z(f, scale * c.drift(w))
    z_s = _z(prod, c.second_moment(w)[iu])
    return np.concatenate([z_d, z_s]), n + len(iu[0])


def _z(samples, theory):
    """(mean - theory)/SE; where the samples do not vary (e.g. w = 0 for Oja), exact equality."""
    diff = samples.mean(0) - theory
    se = samples.std(0, ddof=1) / np.sqrt(samples.shape[0])
    exact = np.abs(diff) <= 1e-12 * np.maximum(1.0, np.abs(theory))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(exact, 0.0, np.inf))


@pytest.mark.parametrize("name", list(GALLERY_RULES))
def test_derived_drift_and_second_moment_equal_monte_carlo(name):
    """Per rule, EXAMPLES hypothesis-drawn weight vectors; all z-scores of the drift and the
    second-moment entries within the Sidak bound over every entry and draw."""
    _, n, box = GALLERY_RULES[name]
    found = []

    # derandomized draws and a seed that does not depend on PYTHONHASHSEED: the test is a fixed
    # statistical check (1% false-failure level), not a new one on every run
    @settings(max_examples=EXAMPLES, database=None, derandomize=True)
    @given(st.lists(st.floats(-box, box, **finite), min_size=n, max_size=n))
    def draw(w):
        seed = zlib.crc32(repr((name, tuple(w))).encode())
        z, m = _mc_z(name, np.array(w), seed)
        found.append((z, m))

    draw()
    m_total = sum(m for _, m in found)
    bound = sidak_bound(m_total, 0.01)
    zmax = max(float(np.max(np.abs(z))) for z, _ in found)
    assert zmax < bound, f"{name}: max |z| = {zmax:.2f} >= Sidak bound {bound:.2f}"


@pytest.mark.parametrize("name,w", [("oja", [0.4, 0.9]), ("sign-lms", [-0.5, 0.5]),
                                    ("bcm", [0.9, 0.1, 0.5]), ("perceptron-rl", [0.3, -0.4])])
def test_a_doubled_drift_is_rejected_by_the_monte_carlo_check(name, w):
    z, m = _mc_z(name, np.array(w), 5, scale=2.0)
    assert np.max(np.abs(z)) > sidak_bound(m * EXAMPLES, 0.01)


# ----------------------------------------------------------------- generated code paths


def test_rules_without_a_common_template_fall_back_to_per_entry_code():
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    f = [x[1] * w[0] ** 2, x[0] * w[1] - w[0]]  # entry i uses the other index: no template
    rule = LearningRule("crossed", w, f, Normal(x, cov=[[1.0, 0.5], [0.5, 2.0]]))
    gen = GeneratedRule(rule, lr=0.1)
    assert gen._template is None
    rng = np.random.default_rng(0)
    W = rng.standard_normal((7, 2))
    noise = gen.draw(rng, 7)
    L = np.linalg.cholesky(np.array([[1.0, 0.5], [0.5, 2.0]]))
    del L  # the generated sampler uses the symmetric square root
    lam, Q = np.linalg.eigh(np.array([[1.0, 0.5], [0.5, 2.0]]))
    X = noise @ ((Q * np.sqrt(lam)) @ Q.T)
    want = np.stack([X[:, 1] * W[:, 0] ** 2, X[:, 0] * W[:, 1] - W[:, 0]], 1)
    np.testing.assert_allclose(gen.update(W, noise), want, rtol=1e-13)


def test_mixture_components_with_their_own_covariances_are_sampled_as_defined():
    x = sp.symbols("x0:2", real=True)
    w = sp.symbols("w0:2", real=True)
    comps = [Component(0.3, [1.0, -1.0], [[0.5, 0.2], [0.2, 0.4]]),
             Component(0.7, [-0.5, 2.0], [[0.1, 0.0], [0.0, 0.9]])]
    rule = LearningRule("mix", w, list(x), Mixture(x, comps))
    gen = GeneratedRule(rule, lr=1.0)
    f = gen.sample_updates(np.zeros(2), 200000, np.random.default_rng(3))
    d = compiled_rule(derive(rule))
    m = d.drift(np.zeros(2))
    S = d.second_moment(np.zeros(2))
    se_m = f.std(0) / np.sqrt(f.shape[0])
    assert np.all(np.abs(f.mean(0) - m) < 4 * se_m)
    assert np.allclose(f.T @ f / f.shape[0], S, atol=0.02)


def test_non_psd_covariance_from_parameter_values_is_named():
    x = sp.symbols("x0:2", real=True)
    w = sp.symbols("w0:2", real=True)
    a = sp.Symbol("a", positive=True)
    rule = LearningRule("p", w, list(x), Normal(x, cov=[[a, 1], [1, a]]), {a: 0.5})
    with pytest.raises(ValueError, match=r"covariance of \(x0, x1\) must be positive "
                                         "semidefinite"):
        GeneratedRule(rule, lr=0.1)
    GeneratedRule(rule, {"a": 2.0}, lr=0.1)  # fine once the values make it PSD


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_a_non_finite_update_is_named():
    w, x = sp.Symbol("w", real=True), sp.Symbol("x", real=True)
    rule = LearningRule("inverse", [w], [x / w], Normal([x]))
    gen = GeneratedRule(rule, lr=0.1)
    with pytest.raises(NonFiniteUpdateError, match=r"update of rule 'inverse' is not finite: "
                                                   r"f_0 = .* at finite weights \{'w': 0.0\}"):
        simulate_ensemble(gen, [0.0], 5, replicas=4, seed=0, progress=False)


def test_parameter_values_are_checked_by_name():
    with pytest.raises(ValueError, match="rule 'oja' has no parameter nope"):
        GeneratedRule(oja_rule(), {"nope": 1.0}, lr=0.1)
    x, w, c = sp.Symbol("x"), sp.Symbol("w"), sp.Symbol("c")
    rule = LearningRule("nodefault", [w], [c * x], Normal([x]), [c])
    with pytest.raises(ValueError, match="parameter.*c have no value"):
        GeneratedRule(rule, lr=0.1)
