"""Truncated singular value decomposition of one matrix.

Two backends compute the rank-k truncation:

- ``"exact"``: LAPACK's full thin SVD through :func:`numpy.linalg.svd`. Gives the optimal
  rank-k approximation (Eckart-Young) and every singular value.
- ``"randomized"``: Halko, Martinsson and Tropp's randomized range finder with power
  iterations, as implemented by :func:`sklearn.utils.extmath.randomized_svd`. Costs
  O(m n k) instead of O(m n min(m, n)); near optimal when the spectrum decays.

``"auto"`` picks ``"randomized"`` when k is small relative to the matrix (see
:data:`AUTO_RANDOMIZED_FRACTION`) and ``"exact"`` otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import numpy as np

from svdnet.validation import check_choice, check_int, check_rank, check_seed

BACKENDS = ("auto", "exact", "randomized")

class _BackendDefault(str):
    """A default SVD backend: equal to its name, and told apart (``is``) from the same name
    given explicitly, so that ``svd_method="exact", method="randomized"`` is refused."""


DEFAULT_BACKEND = _BackendDefault("exact")
"""The SVD backend of one decomposition (:func:`truncated_svd`, :func:`project`,
:func:`svdnet.factorize`): exact LAPACK, whose rank-k kernels are the optimal ones
(Eckart-Young) and depend on no seed; a model is factorized once, in under a second per
1024 x 1024 kernel."""

PROJECTION_BACKEND = _BackendDefault("auto")
"""The SVD backend of the epoch-end projection (:class:`svdnet.SVDProjection`): it
decomposes every kernel at every projection, so the randomized SVD takes over where the
rank is at most :data:`AUTO_RANDOMIZED_FRACTION` of the kernel's smaller side (within 1%
of the optimal error even on flat spectra, ``tests/core/test_svd.py``)."""

# "auto" uses the randomized backend when rank <= this fraction of min(m, n).
AUTO_RANDOMIZED_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class TruncatedSVD:
    """The rank-k truncated SVD of a matrix ``W ~= u @ diag(s) @ vt``.

    Attributes:
        u: Left singular vectors, shape ``(m, k)``.
        s: The k largest singular values, descending, shape ``(k,)``.
        vt: Right singular vectors (transposed), shape ``(k, n)``.
        total_energy: ``||W||_F^2``, the sum of all squared singular values of ``W``.
        backend: The backend that computed it, ``"exact"`` or ``"randomized"``.
        all_singular_values: Every singular value of ``W`` when the exact backend computed
            them, else ``None``.
    """

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray
    total_energy: float
    backend: str
    all_singular_values: np.ndarray | None = None

    @property
    def rank(self) -> int:
        """Number of singular triplets kept."""
        return int(self.s.shape[0])

    def truncate(self, rank: int) -> "TruncatedSVD":
        """Returns the rank-``rank`` truncation of this decomposition (no new SVD).

        Args:
            rank: Positive integer; ranks above :attr:`rank` keep everything.
        """
        k = min(check_rank(rank), self.rank)
        return dataclasses.replace(self, u=self.u[:, :k], s=self.s[:k], vt=self.vt[:k])

    def reconstruct(self) -> np.ndarray:
        """Returns the rank-k approximation ``u @ diag(s) @ vt``."""
        return (self.u * self.s) @ self.vt

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """Returns the balanced factors ``(u * sqrt(s), sqrt(s) * vt)``.

        Their product is the rank-k approximation; an m x n kernel becomes an m x k and a
        k x n matrix, so storage drops from m*n to k*(m+n) numbers.
        """
        root = np.sqrt(self.s)
        return self.u * root, root[:, None] * self.vt

    def energy_kept(self) -> float:
        """Fraction of ``||W||_F^2`` carried by the kept singular values (1.0 for W = 0)."""
        if self.total_energy == 0.0:
            return 1.0
        return float(min(1.0, np.sum(np.square(self.s, dtype=np.float64)) / self.total_energy))

    def relative_error(self) -> float:
        """``||W - W_k||_F / ||W||_F`` computed from the spectrum.

        By Eckart-Young this is the root of the discarded energy fraction for the exact
        backend; for the randomized backend it is the same formula evaluated on its
        (approximate) singular values, which is exact because the randomized factors are
        an orthogonal projection of W.
        """
        return float(np.sqrt(max(0.0, 1.0 - self.energy_kept())))


def _as_matrix(matrix) -> np.ndarray:
    try:
        array = np.asarray(matrix)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Expected a 2-D numeric matrix, received {matrix!r:.80} "
                        f"({error}).") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(
            f"Expected a 2-D numeric matrix, received an array of dtype {array.dtype} "
            f"(for example {array.flat[0]!r:.40}); convert it to floats first."
            if array.size else
            f"Expected a 2-D numeric matrix, received an empty array of dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise TypeError(f"Expected a real matrix, received one of dtype {array.dtype}; "
                        "svdnet decomposes real kernels only.")
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2-D matrix, received an array of shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    elif array.dtype == np.float16:  # LAPACK has no half precision
        array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"Cannot take the SVD of a matrix with {bad} NaN or infinite entries "
            f"(shape {array.shape})."
        )
    return array


def svd_method_argument(svd_method: str, method: str | None, caller: str,
                        default: str = DEFAULT_BACKEND) -> str:
    """The SVD backend a caller was given: ``svd_method``, or ``method``, its former
    name, with a ``DeprecationWarning`` (one name for the backend everywhere, as in
    :class:`svdnet.experiments.RunConfig`, where ``method`` is the training method).

    Args:
        svd_method: The value of ``svd_method``.
        method: The value of the deprecated ``method`` (``None`` when not given).
        caller: The function's name, for the messages.
        default: The caller's default ``svd_method`` (that very object counts as not
            given). Defaults to :data:`DEFAULT_BACKEND`.

    Raises:
        TypeError: when both are given with different values.
    """
    if method is None:
        return svd_method
    if svd_method is not default and svd_method != method:
        raise TypeError(f"{caller} was given svd_method={svd_method!r} and method={method!r}; "
                        "give the SVD backend once, as svd_method.")
    warnings.warn(f"{caller}(method=...) is deprecated: the SVD backend is svd_method=...; "
                  f"received method={method!r}.", DeprecationWarning, stacklevel=3)
    return method


def resolve_backend(svd_method: str, rank: int, shape: tuple[int, int]) -> str:
    """Returns the concrete backend ``"exact"`` or ``"randomized"`` for a request.

    Args:
        svd_method: One of ``"auto"``, ``"exact"``, ``"randomized"``.
        rank: Requested rank k.
        shape: Shape ``(m, n)`` of the matrix.
    """
    check_choice("svd_method", svd_method, BACKENDS)
    if svd_method != "auto":
        return svd_method
    return "randomized" if rank <= AUTO_RANDOMIZED_FRACTION * min(shape) else "exact"


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One ``ThreadpoolController`` for the process: building one scans every loaded
    library (about 10 ms, once per SVD with ``threadpool_limits``)."""
    from sklearn.utils.extmath import randomized_svd  # noqa: F401  (loads scipy's BLAS first)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def truncated_svd(
    matrix,
    rank: int,
    svd_method: str = DEFAULT_BACKEND,
    n_oversamples: int = 10,
    n_iter: int = 4,
    seed: int | None = 0,
    *,
    method: str | None = None,
) -> TruncatedSVD:
    """Computes the rank-k truncated SVD of a matrix.

    Args:
        matrix: A 2-D array-like of shape ``(m, n)`` with finite entries.
        rank: Number of singular triplets to keep, ``1 <= rank``. A rank above
            ``min(m, n)`` is clipped to ``min(m, n)`` (the decomposition is then exact).
        svd_method: ``"exact"``, ``"randomized"`` or ``"auto"``. Defaults to
            :data:`DEFAULT_BACKEND`, ``"exact"``.
        n_oversamples: Extra random directions for the randomized backend, an integer
            >= 0. Defaults to 10.
        n_iter: Power iterations of the randomized backend, an integer >= 0. Defaults
            to 4. With the defaults, ``"auto"`` stays within 1% of the optimal error
            even on flat spectra (``tests/core/test_svd.py``), and within 0.2% on
            trained kernels (``benchmarks/README.md``).
        seed: Seed of the randomized backend's test matrix. Defaults to 0.
        method: The former name of ``svd_method``, deprecated. Defaults to ``None``.

    Returns:
        A :class:`TruncatedSVD`.
    """
    svd_method = svd_method_argument(svd_method, method, "truncated_svd")
    rank = check_rank(rank)
    seed = check_seed(seed)
    n_oversamples = check_int("n_oversamples", n_oversamples, minimum=0)
    n_iter = check_int("n_iter", n_iter, minimum=0)
    array = _as_matrix(matrix)
    if 0 in array.shape:
        raise ValueError(f"Cannot take the SVD of an empty matrix (shape {array.shape}).")
    k = min(rank, min(array.shape))
    backend = resolve_backend(svd_method, k, array.shape)
    total_energy = float(np.sum(np.square(array, dtype=np.float64)))
    if backend == "exact" or k == min(array.shape):
        u, s, vt = np.linalg.svd(array, full_matrices=False)
        return TruncatedSVD(
            u[:, :k], s[:k], vt[:k], total_energy, "exact", all_singular_values=s
        )
    # Imported lazily: scikit-learn is only needed by this backend.
    from sklearn.utils.extmath import randomized_svd

    # One BLAS thread: the products here are thin (m x (k + oversamples)), and several
    # BLAS threads cost more in synchronisation than they save; when other work (such
    # as TensorFlow's threads) holds the cores, they made it 30x slower here
    # (benchmarks/svd_step.py).
    with _blas_controller().limit(limits=1, user_api="blas"):
        u, s, vt = randomized_svd(
            array,
            k,
            n_oversamples=n_oversamples,
            n_iter=n_iter,
            random_state=seed,
        )
    return TruncatedSVD(u, s, vt, total_energy, "randomized")


def project(matrix, rank: int, svd_method: str = DEFAULT_BACKEND, seed: int | None = 0, *,
            method: str | None = None) -> np.ndarray:
    """Returns the rank-k approximation of ``matrix`` in its own dtype.

    Args:
        matrix: A 2-D array-like.
        rank: Target rank k (positive integer).
        svd_method: SVD backend, see :func:`truncated_svd`. Defaults to
            :data:`DEFAULT_BACKEND`, ``"exact"``.
        seed: Seed of the randomized backend. Defaults to 0.
        method: The former name of ``svd_method``, deprecated. Defaults to ``None``.
    """
    svd_method = svd_method_argument(svd_method, method, "project")
    original = np.asarray(matrix)
    array = _as_matrix(original)  # float16 is decomposed in float32, and returned as float16
    dtype = original.dtype if np.issubdtype(original.dtype, np.floating) else array.dtype
    return truncated_svd(array, rank, svd_method=svd_method, seed=seed).reconstruct().astype(
        dtype, copy=False
    )


def singular_values(matrix) -> np.ndarray:
    """Returns every singular value of ``matrix`` in descending order."""
    return np.linalg.svd(_as_matrix(matrix), compute_uv=False)


def energy_curve(values) -> np.ndarray:
    """Returns the cumulative fraction of energy kept by ranks 1, 2, ..., len(values).

    Args:
        values: Singular values in descending order.
    """
    squares = np.square(np.asarray(values, dtype=np.float64))
    total = squares.sum()
    if total == 0.0:
        return np.ones_like(squares)
    return np.cumsum(squares) / total


def numerical_rank(matrix) -> int:
    """Returns the numerical rank of ``matrix`` (see :func:`numpy.linalg.matrix_rank`)."""
    return int(np.linalg.matrix_rank(_as_matrix(matrix)))


def rank_of_spectrum(values, shape: tuple[int, int]) -> int:
    """Returns the numerical rank of a matrix of ``shape`` from its singular values.

    Uses :func:`numpy.linalg.matrix_rank`'s default tolerance,
    ``max(values) * max(shape) * eps(values.dtype)``, so it agrees with
    :func:`numerical_rank` without a second decomposition.
    """
    values = np.asarray(values)
    if values.size == 0:
        return 0
    tolerance = values.max() * max(shape) * np.finfo(values.dtype).eps
    return int(np.count_nonzero(values > tolerance))
