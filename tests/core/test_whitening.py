"""The data-aware (whitened) truncated SVD: optimal output error for the inputs."""

import numpy as np
import pytest

from svdnet import svd, whitening


def anisotropic_inputs(examples, width, seed=0, decay=1.5):
    """Inputs whose directions carry very different energy (and mix the axes)."""
    rng = np.random.default_rng(seed)
    mixing, _ = np.linalg.qr(rng.standard_normal((width, width)))
    scales = np.arange(1, width + 1) ** -decay
    return rng.standard_normal((examples, width)) @ (scales[:, None] * mixing)


def output_error(inputs, matrix, approximation):
    return np.linalg.norm(inputs @ (matrix - approximation))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(6, 5), (5, 8), (9, 9)])
def test_whitened_svd_reaches_the_optimal_output_error(seed, shape):
    rows = shape[0]
    rng = np.random.default_rng(seed)
    inputs = anisotropic_inputs(3 * rows, rows, seed)
    matrix = rng.standard_normal(shape)
    covariance = inputs.T @ inputs
    full = whitening.whitened_svd(matrix, covariance, damping=0.0)
    for rank in range(1, min(shape) + 1):
        approximation = full.truncate(rank).reconstruct()
        # With X of full column rank, X W_k ranges over every rank-k matrix in X's column
        # space, where X W's best rank-k approximation lies: Eckart-Young on X W.
        optimum = np.sqrt(np.sum(np.linalg.svd(inputs @ matrix, compute_uv=False)[rank:] ** 2))
        error = output_error(inputs, matrix, approximation)
        assert error == pytest.approx(optimum, rel=1e-7, abs=1e-9)
        # Brute force: no nearby rank-k matrix does better.
        left, right = full.truncate(rank).factors()
        for _ in range(20):
            moved = ((left + 1e-3 * rng.standard_normal(left.shape))
                     @ (right + 1e-3 * rng.standard_normal(right.shape)))
            assert output_error(inputs, matrix, moved) >= error - 1e-9
        plain = svd.truncated_svd(matrix, rank).reconstruct()
        assert error <= output_error(inputs, matrix, plain) + 1e-9


def test_whitened_beats_plain_svd_on_anisotropic_inputs():
    rng = np.random.default_rng(3)
    inputs = anisotropic_inputs(400, 40, seed=3)
    matrix = rng.standard_normal((40, 30))
    whitened = whitening.whitened_svd(matrix, inputs.T @ inputs).truncate(5).reconstruct()
    plain = svd.truncated_svd(matrix, 5).reconstruct()
    assert output_error(inputs, matrix, whitened) < 0.5 * output_error(inputs, matrix, plain)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 250.0])
def test_isotropic_inputs_give_the_plain_svd(scale):
    matrix = np.random.default_rng(4).standard_normal((12, 7))
    whitened = whitening.whitened_svd(matrix, scale * np.eye(12), damping=0.0)
    plain = svd.truncated_svd(matrix, 7)
    np.testing.assert_allclose(whitened.s / np.sqrt(scale), plain.s, rtol=1e-10)
    for rank in (1, 3, 7):
        np.testing.assert_allclose(whitened.truncate(rank).reconstruct(),
                                   plain.truncate(rank).reconstruct(), atol=1e-10)
        assert whitened.truncate(rank).energy_kept() == pytest.approx(
            plain.truncate(rank).energy_kept())


def test_result_is_a_complete_truncated_svd_of_the_output():
    rng = np.random.default_rng(5)
    inputs = anisotropic_inputs(50, 10, seed=5)
    matrix = rng.standard_normal((10, 6))
    covariance = inputs.T @ inputs
    result = whitening.whitened_svd(matrix, covariance)
    damped = whitening.damped(covariance)
    assert isinstance(result, svd.TruncatedSVD)
    assert result.backend == whitening.BACKEND == "whitened"
    assert result.rank == 6 and result.u.shape == (10, 6) and result.vt.shape == (6, 6)
    assert result.u.dtype == np.float64
    np.testing.assert_allclose(result.all_singular_values, result.s)
    assert np.all(np.diff(result.s) <= 0)
    np.testing.assert_allclose(result.reconstruct(), matrix, atol=1e-10)
    assert result.total_energy == pytest.approx(whitening.output_energy(matrix, damped))
    truncated = result.truncate(2)
    np.testing.assert_allclose(truncated.all_singular_values, result.s)  # full spectrum kept
    left, right = truncated.factors()
    np.testing.assert_allclose(left @ right, truncated.reconstruct(), atol=1e-10)
    change = whitening.output_energy(matrix - truncated.reconstruct(), damped)
    assert truncated.relative_error() == pytest.approx(
        np.sqrt(change / result.total_energy), rel=1e-8)
    assert truncated.energy_kept() == pytest.approx(1 - change / result.total_energy)


@pytest.mark.parametrize("rank", [1, 2, 4])
def test_rank_and_idempotence(rank):
    rng = np.random.default_rng(6)
    inputs = anisotropic_inputs(60, 8, seed=6)
    covariance = inputs.T @ inputs
    matrix = rng.standard_normal((8, 9))
    once = whitening.whitened_svd(matrix, covariance).truncate(rank)
    assert np.linalg.matrix_rank(once.reconstruct()) == rank
    assert once.truncate(rank).reconstruct() == pytest.approx(once.reconstruct())
    twice = whitening.whitened_svd(once.reconstruct(), covariance).truncate(rank)
    np.testing.assert_allclose(twice.reconstruct(), once.reconstruct(), atol=1e-9)


def test_damping_makes_a_singular_covariance_usable():
    rng = np.random.default_rng(7)
    inputs = rng.standard_normal((3, 10))  # 3 input vectors for a width of 10
    covariance = inputs.T @ inputs
    matrix = rng.standard_normal((10, 4))
    with pytest.raises(ValueError, match=r"not positive definite.*damping > 0"):
        whitening.whitened_svd(matrix, covariance, damping=0.0)
    result = whitening.whitened_svd(matrix, covariance).truncate(3)
    assert np.all(np.isfinite(result.reconstruct()))
    # The three seen directions are kept almost exactly at rank 3.
    assert output_error(inputs, matrix, result.reconstruct()) < 0.05 * np.linalg.norm(
        inputs @ matrix)


def test_damping_is_relative_to_the_mean_eigenvalue():
    covariance = np.diag([4.0, 2.0, 0.0])
    np.testing.assert_allclose(whitening.damped(covariance, 0.5), np.diag([5.0, 3.0, 1.0]))
    np.testing.assert_allclose(whitening.damped(np.zeros((3, 3))), np.eye(3))
    matrix = np.random.default_rng(8).standard_normal((3, 2))
    assert whitening.whitened_svd(matrix, np.zeros((3, 3))).reconstruct() == pytest.approx(
        matrix)


def test_scale_of_the_covariance_does_not_matter():
    rng = np.random.default_rng(9)
    inputs = anisotropic_inputs(30, 7, seed=9)
    matrix = rng.standard_normal((7, 5))
    small = whitening.whitened_svd(matrix, inputs.T @ inputs / 30).truncate(2)
    large = whitening.whitened_svd(matrix, inputs.T @ inputs).truncate(2)
    np.testing.assert_allclose(small.reconstruct(), large.reconstruct(), atol=1e-10)


@pytest.mark.parametrize("covariance, error, match", [
    (np.eye(4), ValueError, r"must be 5 x 5 .* shape \(5, 3\).*received shape \(4, 4\)"),
    (np.ones((5, 4)), ValueError, r"must be 5 x 5 .*received shape \(5, 4\)"),
    (np.full((5, 5), np.nan), ValueError, r"25 NaN or infinite"),
    (-np.eye(5), ValueError, r"not positive definite"),
])
def test_bad_covariance_is_refused(covariance, error, match):
    with pytest.raises(error, match=match):
        whitening.whitened_svd(np.ones((5, 3)), covariance)


@pytest.mark.parametrize("damping, error, match", [
    (-0.1, ValueError, r"damping must be a number with 0 <= damping; received -0.1"),
    (float("nan"), ValueError, r"damping .*received nan"),
    ("small", TypeError, r"damping .*received 'small' of type str"),
])
def test_bad_damping_is_refused(damping, error, match):
    with pytest.raises(error, match=match):
        whitening.whitened_svd(np.ones((3, 2)), np.eye(3), damping=damping)


def test_bad_matrix_is_refused():
    with pytest.raises(ValueError, match=r"2-D matrix, received an array of shape \(3,\)"):
        whitening.whitened_svd(np.ones(3), np.eye(3))
    with pytest.raises(ValueError, match=r"empty matrix \(shape \(0, 3\)\)"):
        whitening.whitened_svd(np.ones((0, 3)), np.eye(0))
