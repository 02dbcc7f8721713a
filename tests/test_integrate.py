"""integrate() against analytic solutions, with errors scaled by the requested tolerance."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics.fixed_points import ConvergenceError, find_fixed_point
from numerics.integrate import DivergenceError, integrate


@given(k=st.floats(0.05, 5.0), y0=st.floats(-5, 5), rtol=st.sampled_from([1e-5, 1e-8, 1e-10]))
def test_exponential_decay(k, y0, rtol):
    t = np.linspace(0, 4, 9)
    traj = integrate(lambda t, y: -k * y, (0, 4), [y0], t_eval=t, rtol=rtol, atol=rtol * 1e-3)
    exact = y0 * np.exp(-k * t)
    err = np.max(np.abs(traj.y[0] - exact) / (np.abs(exact) + 1e-3))
    assert err < 200 * rtol


def test_rotation_and_trajectory_fields():
    traj = integrate(lambda t, y: np.array([-y[1], y[0]]), (0, 2 * np.pi), [1.0, 0.0],
                     t_eval=[np.pi, 2 * np.pi], method="RK45", rtol=1e-10, atol=1e-12,
                     state_names=["x", "y"])
    assert traj["x"][-1] == pytest.approx(1.0, abs=1e-7)
    assert traj["x"][0] == pytest.approx(-1.0, abs=1e-7)
    assert traj.nfev > 0 and traj.to_dict()["state_names"] == ["x", "y"]
    with pytest.raises(KeyError, match="no state"):
        traj["z"]


def test_blow_up_is_reported_with_its_time():
    # dy/dt = y^2, y(0) = 1 blows up at t = 1
    with pytest.raises(DivergenceError) as info:
        integrate(lambda t, y: y**2, (0, 2), [1.0], blowup=1e8, state_names=["y"])
    assert info.value.t == pytest.approx(1.0, abs=1e-6)
    assert "t=" in str(info.value) and "y" in str(info.value)


def test_nan_is_reported():
    with np.errstate(invalid="ignore"):
        with pytest.raises(DivergenceError, match="not finite at t="):
            integrate(lambda t, y: np.sqrt(0.5 - t) * np.ones(1), (0, 1), [0.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"t_span": (1, 0), "y0": [1.0]}, "t_span"),
    ({"t_span": (0, 1), "y0": [np.nan]}, "y0"),
    ({"t_span": (0, 1), "y0": [[1.0]]}, "y0"),
    ({"t_span": (0, 1), "y0": [1.0], "rtol": -1}, "rtol"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        integrate(lambda t, y: -y, **kwargs)


def test_fixed_point_and_stability():
    fp = find_fixed_point(lambda x: np.array([x[0] ** 2 - 2.0, -x[1]]), [1.0, 0.3])
    assert fp.x[0] == pytest.approx(np.sqrt(2), rel=1e-10)
    assert not fp.stable  # d/dx (x^2 - 2) = 2 sqrt 2 > 0
    fp2 = find_fixed_point(lambda x: -(x - 3.0), [0.0])
    assert fp2.stable and fp2.x[0] == pytest.approx(3.0)
    with pytest.raises(ConvergenceError, match="residual"):
        find_fixed_point(lambda x: x**2 + 1.0, [0.5])
