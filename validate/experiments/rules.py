r"""``learndyn validate rule-*``: a gallery of learning rules written once (:mod:`theory.rules`)
and checked end to end, each against a textbook answer as well.

Every experiment runs :func:`validate.rules.check_rule` on a rule of
:mod:`theory.rule_library` — derive the drift and second moment from the definition, iterate
the moment map, simulate an ensemble with the simulator generated from the same definition,
compare mean and covariance trajectories (Šidák 99% over all entries and times, Student-t with
``replicas - 1`` degrees of freedom) — and adds deterministic checks of the derivation against
a known closed form:

* ``rule-oja`` (Oja 1982): the fixed point of the derived drift reached from the final mean is
  the leading eigenvector of :math:`\Sigma` with norm 1, and the derived Jacobian at the two
  unit eigenvectors :math:`e_k` has the eigenvalues :math:`\{-2\lambda_k, \lambda_j -
  \lambda_k\}` (stable at the leading one only);
* ``rule-hebb-decay``: the moment map equals the exact moments of a rule affine in the
  weights (:func:`theory.rules.exact_moment_map`), and the exact mean
  :math:`(I + \eta A)^n w_0`, :math:`A = \Sigma - \alpha I`, lies within the stated
  :math:`\eta t\max_k a_k^2` of the textbook :math:`e^{At}w_0` (Dayan & Abbott 2001, ch. 8);
* ``rule-bcm`` (Bienenstock, Cooper & Munro 1982): without pattern noise the derived drift's
  fixed point near the final mean is selective, :math:`w\cdot a = 1/p = 2`, :math:`w\cdot b =
  0`, :math:`\theta = 2` (Intrator & Cooper 1992), and stable (the derived Jacobian's
  eigenvalues have negative real parts);
* ``rule-sign-lms``: the quadrature-path drift equals the closed form
  :math:`\sqrt{2/\pi}\,R(w_o - w)/\sigma_e` along the trajectory, the second moment equals
  :math:`R`, and the fixed point is :math:`w_o`.
"""

from __future__ import annotations

import numpy as np

from numerics.compile import compile_expressions
from numerics.rules import compiled_rule, exact_moment_trajectory
from theory.rule_library import (
    bcm_rule,
    hebbian_decay_rule,
    oja_rule,
    sign_lms_closed_form,
    sign_lms_rule,
)
from theory.rules import derive
from validate.compare import tolerance_check
from validate.registry import ExperimentResult, RunConfig, register_experiment
from validate.rules import SETTINGS, _require_values, check_rule_with, plot_rule_check, rule_params


def _run(name: str, rule, config: RunConfig, known, draw=None) -> ExperimentResult:
    p = dict(config.params)
    check = check_rule_with(rule, p, seed=config.seed, progress=config.progress,
                            figures=False, experiment=name)
    values = {k: v for k, v in p.items() if k not in SETTINGS}
    extra_comps, extra = known(check, values, p)
    comps = tuple(check.result.comparisons) + tuple(extra_comps)
    figures: list[str] = []
    if config.out_dir is not None:
        (config.out_dir / "derivation.tex").parent.mkdir(parents=True, exist_ok=True)
        (config.out_dir / "derivation.tex").write_text(check.latex)
        if config.figures:
            figures = plot_rule_check(rule, check.curve, check.ensemble, comps, config.out_dir,
                                      name.replace("-", "_"),
                                      extra=None if draw is None else
                                      (lambda axes: draw(axes, check, values, extra)))
    return ExperimentResult(name, comps, config.seed, tuple(figures), p,
                            {**check.result.extra, **extra})


def _sigma(values: dict) -> np.ndarray:
    return np.array([[values["Sigma_0_0"], values["Sigma_0_1"]],
                     [values["Sigma_0_1"], values["Sigma_1_1"]]])


def _check_sigma(p: dict, quick: bool) -> None:
    _require_values(oja_rule())(p, quick)
    lam = np.linalg.eigvalsh(_sigma(p))
    if lam[0] <= 0:
        raise ValueError(f"the input covariance (Sigma_0_0, Sigma_0_1, Sigma_1_1) must be "
                         f"positive definite, its eigenvalues are {lam.round(6).tolist()}")


# ------------------------------------------------------------------------------- Oja


def _oja_known(check, values, p):
    S = _sigma(values)
    lam, vec = np.linalg.eigh(S)
    c = check.compiled
    wf = c.fixed_point(check.curve.mean[-1])
    e1 = vec[:, 1] * np.sign(vec[:, 1] @ wf)
    comps = [tolerance_check("fixed point = leading eigenvector of Sigma, norm 1", e1, wf,
                             atol=1e-9, note=f"Newton on the derived drift from the final mean; "
                                             f"|w*| = {np.linalg.norm(wf):.12f}")]
    eig = []
    ref = []
    for k, j in ((1, 0), (0, 1)):
        J = c.jacobian(vec[:, k])
        eig += sorted(np.linalg.eigvals(J).real.tolist())
        ref += sorted([-2 * lam[k], lam[j] - lam[k]])
    comps.append(tolerance_check(
        "Jacobian at the unit eigenvectors: {-2 l_k, l_j - l_k}", ref, eig, rtol=1e-9,
        atol=1e-12, note="derived Jacobian at e_1 (stable: both negative) and e_2 (unstable)"))
    return comps, {"eigenvalues": lam.tolist(), "leading_eigenvector": e1.tolist(),
                   "fixed_point": wf.tolist()}


def _oja_draw(axes, check, values, extra):
    ax = axes[0, 0]
    for i, v in enumerate(extra["leading_eigenvector"]):
        ax.axhline(v, color=f"C{i}", ls=":", lw=1, label="leading eigenvector" if i == 0 else None)
    ax.legend(fontsize=7)


OJA = oja_rule()


@register_experiment("rule-oja", "Oja's rule from its one definition: moments vs simulation; "
                     "converges to the leading eigenvector with norm 1", rule_params(OJA),
                     _check_sigma)
def run_oja(config: RunConfig) -> ExperimentResult:
    return _run("rule-oja", OJA, config, _oja_known, _oja_draw)


# ------------------------------------------------------------------------------- Hebb


def _hebb_known(check, values, p):
    rule = check.derived.rule
    steps = check.curve.steps
    exact = exact_moment_trajectory(rule, values, p["w0"], p["eta"], int(steps[-1]),
                                    record_steps=steps)
    comps = [tolerance_check("moment map = exact moments (rule affine in w)",
                             np.concatenate([exact.mean.ravel(), exact.cov.ravel()]),
                             np.concatenate([check.curve.mean.ravel(), check.curve.cov.ravel()]),
                             rtol=1e-9, atol=1e-12,
                             note="theory.rules.exact_moment_map, Isserlis, no closure")]
    A = _sigma(values) - values["alpha"] * np.eye(2)
    a, Q = np.linalg.eigh(A)
    t = exact.times
    cont = np.stack([(Q * np.exp(a * ti)) @ Q.T @ np.asarray(p["w0"]) for ti in t])
    bound = t[-1] * p["eta"] * float(np.max(a**2))
    scale = np.linalg.norm(cont, axis=1, keepdims=True)
    comps.append(tolerance_check(
        "exact mean vs textbook exp((Sigma - alpha I) t) w0", cont / scale, exact.mean / scale,
        atol=bound,
        note=f"error relative to |exp(At) w0| within the stated O(eta) bound eta t max a^2 = "
             f"{bound:.3g} ((1 + eta a)^n / exp(a eta n) = 1 - t eta a^2/2 + ...)"))
    return comps, {"growth_rates": a.tolist(), "continuous_mean_final": cont[-1].tolist()}


def _hebb_draw(axes, check, values, extra):
    A = _sigma(values) - values["alpha"] * np.eye(2)
    a, Q = np.linalg.eigh(A)
    t = check.curve.times
    w0 = check.curve.mean[0]
    cont = np.stack([(Q * np.exp(a * ti)) @ Q.T @ w0 for ti in t])
    ax = axes[0, 0]
    for i in range(2):
        ax.plot(t, cont[:, i], color="k", ls=":", lw=1,
                label=r"$e^{(\Sigma-\alpha I)t}w_0$" if i == 0 else None)
    ax.legend(fontsize=7)


HEBB = hebbian_decay_rule()


@register_experiment("rule-hebb-decay", "Hebbian learning with weight decay from its one "
                     "definition: moments vs simulation; exact moments; e^{(Sigma-alpha I)t} w0",
                     rule_params(HEBB), _check_sigma)
def run_hebb(config: RunConfig) -> ExperimentResult:
    return _run("rule-hebb-decay", HEBB, config, _hebb_known, _hebb_draw)


# ------------------------------------------------------------------------------- BCM


def _bcm_known(check, values, p):
    clean = compiled_rule(derive(check.derived.rule), {**values, "sigma2": 0.0})
    wf = clean.fixed_point(check.curve.mean[-1])
    a = np.array([values["a0"], values["a1"]])
    b = np.array([values["b0"], values["b1"]])
    got = np.array([wf[:2] @ a, wf[:2] @ b, wf[2]])
    if got[1] > got[0]:  # selective for b instead: the same statement with the roles swapped
        got = got[[1, 0, 2]]
    comps = [tolerance_check("noise-free fixed point is selective: (w.a, w.b, theta) = (2, 0, 2)",
                             [2.0, 0.0, 2.0], got, atol=1e-9,
                             note="fixed point of the derived drift at sigma2 = 0, Newton from "
                                  "the final mean; 1/p = 2 (Intrator and Cooper 1992)")]
    ev = np.linalg.eigvals(clean.jacobian(wf))
    top = float(np.max(ev.real))
    comps.append(tolerance_check("the selective fixed point is stable (max Re eig J < 0)",
                                 [min(top, 0.0)], [top], atol=1e-300,
                                 note=f"eigenvalues of the derived Jacobian: "
                                      f"{np.round(ev, 4).tolist()}"))
    return comps, {"noise_free_fixed_point": wf.tolist(), "jacobian_eigenvalues":
                   [complex(e).real for e in ev]}


def _bcm_draw(axes, check, values, extra):
    axes[0, 0].axhline(2.0, color="k", ls=":", lw=1, label=r"$\theta^* = 1/p = 2$ (noise-free)")
    axes[0, 0].legend(fontsize=7)


BCM = bcm_rule()


@register_experiment("rule-bcm", "BCM with a sliding threshold from its one definition: "
                     "moments vs simulation; selective stable fixed point y = 1/p",
                     rule_params(BCM), _require_values(BCM))
def run_bcm(config: RunConfig) -> ExperimentResult:
    return _run("rule-bcm", BCM, config, _bcm_known, _bcm_draw)


# ------------------------------------------------------------------------------- sign LMS


def _sign_known(check, values, p):
    rule = check.derived.rule
    c = check.compiled
    closed = sign_lms_closed_form()
    params = rule.param_symbols
    fn = compile_expressions(closed, [rule.weights, params])
    pv = np.array([values[s.name] for s in params])
    ws = check.curve.mean
    ref = np.asarray(fn(ws.T, pv)).reshape(2, -1).T
    qerr = c.quadrature_error(ws)
    comps = [tolerance_check("quadrature drift = sqrt(2/pi) R (w_o - w) / sigma_e", ref,
                             c.drift(ws), atol=1e-9,
                             note=f"along the theory's mean trajectory; stated quadrature error "
                                  f"{qerr:.1e}")]
    R = np.array([[values["R_0_0"], values["R_0_1"]], [values["R_0_1"], values["R_1_1"]]])
    comps.append(tolerance_check("second moment = R (sign^2 = 1)",
                                 np.broadcast_to(R, (ws.shape[0], 2, 2)).ravel(),
                                 c.second_moment(ws).ravel(), atol=1e-9))
    wf = c.fixed_point(ws[-1])
    comps.append(tolerance_check("fixed point = w_o", [values["wo0"], values["wo1"]], wf,
                                 atol=1e-9))
    return comps, {"quadrature_error": qerr, "fixed_point": wf.tolist()}


def _sign_draw(axes, check, values, extra):
    for i, k in enumerate(("wo0", "wo1")):
        axes[0, 0].axhline(values[k], color=f"C{i}", ls=":", lw=1,
                           label="teacher $w_o$" if i == 0 else None)
    axes[0, 0].legend(fontsize=7)


SIGN = sign_lms_rule()


def _check_sign(p: dict, quick: bool) -> None:
    _require_values(SIGN)(p, quick)
    R = np.array([[p["R_0_0"], p["R_0_1"]], [p["R_0_1"], p["R_1_1"]]])
    lam = np.linalg.eigvalsh(R)
    if lam[0] <= 0:
        raise ValueError(f"the input covariance (R_0_0, R_0_1, R_1_1) must be positive "
                         f"definite, its eigenvalues are {lam.round(6).tolist()}")
    if p["s2"] <= 0:
        raise ValueError(f"parameter 's2' (output noise variance) must be > 0, got {p['s2']}")


@register_experiment("rule-sign-lms", "sign-error LMS from its one definition (quadrature "
                     "path): moments vs simulation; the drift's closed form; fixed point w_o",
                     rule_params(SIGN), _check_sign)
def run_sign_lms(config: RunConfig) -> ExperimentResult:
    return _run("rule-sign-lms", SIGN, config, _sign_known, _sign_draw)
