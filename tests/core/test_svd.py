"""The mathematics of the truncated SVD core."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from svdnet import svd
from tests.conftest import matrix_with_spectrum

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
matrices = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=finite)
)


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, rank=st.integers(1, 14))
def test_eckart_young_error_is_root_of_discarded_energy(matrix, rank):
    result = svd.truncated_svd(matrix, rank, svd_method="exact")
    everything = np.linalg.svd(matrix, compute_uv=False)
    discarded = np.sqrt(np.sum(everything[rank:] ** 2))
    error = np.linalg.norm(matrix - result.reconstruct())
    assert error == pytest.approx(discarded, abs=1e-8 * (1 + np.linalg.norm(matrix)))
    if np.linalg.norm(matrix) > 1e-6:
        assert result.relative_error() == pytest.approx(
            error / np.linalg.norm(matrix), abs=1e-6
        )


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, rank=st.integers(1, 14))
def test_rank_after_truncation_is_at_most_k(matrix, rank):
    projected = svd.project(matrix, rank)
    assert np.linalg.matrix_rank(projected) <= rank
    assert projected.shape == matrix.shape


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, rank=st.integers(1, 14))
def test_projecting_twice_equals_projecting_once(matrix, rank):
    once = svd.project(matrix, rank)
    twice = svd.project(once, rank)
    np.testing.assert_allclose(twice, once, atol=1e-8 * (1 + np.abs(matrix).max()))


def test_factors_multiply_to_reconstruction_with_balanced_norms():
    matrix = np.random.default_rng(1).standard_normal((30, 20))
    result = svd.truncated_svd(matrix, 5)
    left, right = result.factors()
    assert left.shape == (30, 5) and right.shape == (5, 20)
    np.testing.assert_allclose(left @ right, result.reconstruct(), atol=1e-10)
    # U sqrt(S) and sqrt(S) V^T: each column / row carries sqrt of its singular value.
    np.testing.assert_allclose(np.linalg.norm(left, axis=0), np.sqrt(result.s))
    np.testing.assert_allclose(np.linalg.norm(right, axis=1), np.sqrt(result.s))


def test_energy_kept_on_known_spectrum():
    values = np.array([4.0, 3.0, 2.0, 1.0])
    matrix = matrix_with_spectrum(values, 10, 8)
    result = svd.truncated_svd(matrix, 2)
    assert result.energy_kept() == pytest.approx((16 + 9) / 30)
    assert result.relative_error() == pytest.approx(np.sqrt(5 / 30))
    np.testing.assert_allclose(svd.energy_curve(values), np.cumsum(values**2) / 30)


def test_rank_above_matrix_size_is_exact():
    matrix = np.random.default_rng(2).standard_normal((6, 4))
    result = svd.truncated_svd(matrix, 50)
    assert result.rank == 4
    np.testing.assert_allclose(result.reconstruct(), matrix, atol=1e-10)


@pytest.mark.parametrize("rank", [5, 20])
def test_randomized_close_to_exact_on_decaying_spectrum(rank):
    values = 0.8 ** np.arange(200)
    matrix = matrix_with_spectrum(values, 300, 256, seed=3)
    exact = svd.truncated_svd(matrix, rank, svd_method="exact")
    fast = svd.truncated_svd(matrix, rank, svd_method="randomized", seed=0)
    assert fast.backend == "randomized"
    exact_error = np.linalg.norm(matrix - exact.reconstruct())
    fast_error = np.linalg.norm(matrix - fast.reconstruct())
    assert fast_error <= 1.01 * exact_error
    np.testing.assert_allclose(fast.s, exact.s, rtol=1e-6)
    # The randomized error from the spectrum matches the measured error.
    assert fast.relative_error() == pytest.approx(
        fast_error / np.linalg.norm(matrix), rel=1e-4
    )


def test_auto_picks_randomized_only_for_small_ranks():
    assert svd.resolve_backend("auto", 20, (1024, 1024)) == "randomized"
    assert svd.resolve_backend("auto", 200, (1024, 1024)) == "exact"
    assert svd.resolve_backend("exact", 1, (1024, 1024)) == "exact"


def test_zero_matrix_keeps_all_energy():
    result = svd.truncated_svd(np.zeros((5, 3)), 1)
    assert result.energy_kept() == 1.0
    assert result.relative_error() == 0.0


@pytest.mark.parametrize(
    "rank, error, text",
    [
        (0, ValueError, "received 0"),
        (-3, ValueError, "received -3"),
        (2.5, TypeError, "received 2.5"),
        ("20", TypeError, "received '20'"),
        (True, TypeError, "received True"),
    ],
)
def test_bad_ranks_are_rejected_by_name(rank, error, text):
    with pytest.raises(error, match="rank must be an integer") as info:
        svd.truncated_svd(np.eye(3), rank)
    assert text in str(info.value)


def test_bad_method_lists_allowed():
    with pytest.raises(ValueError, match=r"svd_method must be one of 'auto', 'exact', 'randomized'; received 'qr'"):
        svd.truncated_svd(np.eye(3), 1, svd_method="qr")


def test_the_former_name_method_still_works_with_a_deprecation_warning():
    matrix = np.random.default_rng(0).normal(size=(40, 30))
    with pytest.deprecated_call(match=r"truncated_svd\(method=...\) is deprecated.*'randomized'"):
        old = svd.truncated_svd(matrix, 3, method="randomized")
    new = svd.truncated_svd(matrix, 3, svd_method="randomized")
    assert old.backend == new.backend == "randomized"
    np.testing.assert_array_equal(old.s, new.s)
    with pytest.deprecated_call(match="project"):
        np.testing.assert_array_equal(svd.project(matrix, 3, method="exact"),
                                      svd.project(matrix, 3))
    with pytest.raises(TypeError, match="svd_method='randomized' and method='exact'"):
        svd.truncated_svd(matrix, 3, svd_method="randomized", method="exact")
    # the default's name given explicitly is a choice too: both at different values refused
    with pytest.raises(TypeError, match="svd_method='exact' and method='randomized'"):
        svd.truncated_svd(matrix, 3, svd_method="exact", method="randomized")
    with pytest.raises(ValueError, match="received 'qr'"), pytest.deprecated_call():
        svd.truncated_svd(matrix, 3, method="qr")


def test_one_default_backend_per_purpose():
    import inspect

    import svdnet

    def default(function):
        return inspect.signature(function).parameters["svd_method"].default

    assert default(svd.truncated_svd) == default(svd.project) == svd.DEFAULT_BACKEND
    assert default(svdnet.factorize) == svd.DEFAULT_BACKEND == "exact"
    assert default(svdnet.SVDProjection.__init__) == svd.PROJECTION_BACKEND == "auto"


def test_non_matrix_and_non_finite_inputs():
    with pytest.raises(ValueError, match=r"2-D matrix, received an array of shape \(3,\)"):
        svd.truncated_svd(np.ones(3), 1)
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        svd.truncated_svd(np.array([[1.0, np.nan], [0.0, 1.0]]), 1)


def test_project_keeps_dtype():
    matrix = np.random.default_rng(4).standard_normal((8, 8)).astype(np.float32)
    assert svd.project(matrix, 2).dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(matrix=matrices, rank=st.integers(1, 14))
def test_rank_of_spectrum_agrees_with_matrix_rank(matrix, rank):
    projected = svd.project(matrix, rank).astype(np.float32)
    assert svd.rank_of_spectrum(svd.singular_values(projected), projected.shape) == \
        svd.numerical_rank(projected)


def test_randomized_backend_runs_on_one_blas_thread(monkeypatch):
    import sklearn.utils.extmath as extmath
    from threadpoolctl import threadpool_info

    seen = []
    real = extmath.randomized_svd

    def spy(*args, **kwargs):
        seen.extend(lib["num_threads"] for lib in threadpool_info()
                    if lib["user_api"] == "blas")
        return real(*args, **kwargs)

    monkeypatch.setattr(extmath, "randomized_svd", spy)
    matrix = np.random.default_rng(0).standard_normal((64, 48))
    result = svd.truncated_svd(matrix, 3, svd_method="randomized")
    assert result.backend == "randomized" and seen and set(seen) == {1}


def test_half_precision_is_decomposed_and_kept_in_its_dtype():
    matrix = matrix_with_spectrum([4.0, 2.0, 1.0], 12, 10).astype(np.float16)
    projected = svd.project(matrix, 2)
    assert projected.dtype == np.float16
    assert svd.truncated_svd(matrix, 2).s == pytest.approx([4.0, 2.0], rel=1e-2)


@pytest.mark.parametrize("seed, error, text", [
    (-3, ValueError, "seed must be an integer between 0 and 4294967295, received -3"),
    (1.5, TypeError, "received 1.5 of type float"),
])
def test_bad_randomized_seed_is_named(seed, error, text):
    with pytest.raises(error, match=text):
        svd.truncated_svd(np.eye(20), 2, svd_method="randomized", seed=seed)


@pytest.mark.parametrize(
    "matrix, text",
    [
        ([["a", "b"], ["c", "d"]], "dtype <U1"),
        (np.array([[1, None]], dtype=object), "dtype object"),
        (np.ones((2, 2), dtype=complex), "real matrix"),
        ([[1.0, 2.0], [3.0]], "2-D numeric matrix"),
    ],
)
def test_non_numeric_matrices_are_named_not_a_numpy_error(matrix, text):
    with pytest.raises(TypeError, match="matrix") as info:
        svd.truncated_svd(matrix, 1)
    assert text in str(info.value)


def test_empty_matrix_is_named():
    with pytest.raises(ValueError, match=r"empty matrix \(shape \(0, 3\)\)"):
        svd.truncated_svd(np.ones((0, 3)), 1)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"n_iter": -1}, ValueError, "n_iter must be an integer >= 0, received -1"),
        ({"n_iter": 2.5}, TypeError, "n_iter must be an integer >= 0, received 2.5"),
        ({"n_oversamples": -2}, ValueError, "n_oversamples must be an integer >= 0, received -2"),
        ({"n_oversamples": "10"}, TypeError, "received '10'"),
    ],
)
def test_bad_randomized_settings_are_named_not_a_scikit_learn_error(kwargs, error, text):
    with pytest.raises(error, match=text):
        svd.truncated_svd(np.eye(30), 2, svd_method="randomized", **kwargs)


@pytest.mark.parametrize("shape", [(100, 120), (400, 300)])
@pytest.mark.parametrize("decay", ["flat", "linear", "slow-geometric", "gaussian"])
def test_auto_stays_within_one_percent_of_the_optimal_error_on_flat_spectra(shape, decay):
    # Where "auto" takes the randomized backend (k <= a tenth of the smaller side), its
    # error must stay within 1% of Eckart-Young's optimum, flat spectra included.
    n = min(shape)
    index = np.arange(n)
    spectrum = {"flat": np.ones(n), "linear": 1 - index / n,
                "slow-geometric": 0.999 ** index}.get(decay)
    matrix = (np.random.default_rng(3).standard_normal(shape) if spectrum is None
              else matrix_with_spectrum(spectrum, *shape, seed=3))
    for rank in sorted({1, 2, n // 40, n // 20, n // 10} - {0}):
        result = svd.truncated_svd(matrix, rank, svd_method="auto")
        assert result.backend == "randomized"
        optimal = svd.truncated_svd(matrix, rank, svd_method="exact").relative_error()
        achieved = np.linalg.norm(matrix - result.reconstruct()) / np.linalg.norm(matrix)
        assert achieved <= 1.01 * optimal, (rank, achieved / optimal)
