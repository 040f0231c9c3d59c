"""The size of a kernel stored as rank-k factors, and the break-even rank.

The one place where the arithmetic of a factorization lives: parameter counts, rank
selection, the factorization plan, multiply-accumulate counts and the experiment
harness all call these functions.
"""

from __future__ import annotations

from svdnet.validation import check_int, check_rank


def factor_size(rows: int, cols: int, rank: int) -> int:
    """Returns the numbers held by rank-k factors of a ``rows x cols`` kernel.

    Two factors of shape ``rows x k`` and ``k x cols`` hold ``k * (rows + cols)``;
    a product with them costs as many multiply-accumulates per example.

    Args:
        rows: Rows m of the kernel (its input size), >= 1.
        cols: Columns n of the kernel (its output size), >= 1.
        rank: Rank k of the factors, >= 1.
    """
    return check_rank(rank) * (check_int("rows", rows, 1) + check_int("cols", cols, 1))


def break_even_rank(rows: int, cols: int) -> int:
    """Returns the largest rank whose factors are smaller than the kernel (at least 0).

    Factors are smaller exactly when ``k * (m + n) < m * n``, i.e. for
    ``k <= (m * n - 1) // (m + n)``.

    Args:
        rows: Rows m of the kernel, >= 1.
        cols: Columns n of the kernel, >= 1.
    """
    rows, cols = check_int("rows", rows, 1), check_int("cols", cols, 1)
    return max(0, (rows * cols - 1) // (rows + cols))


def shrinks(rows: int, cols: int, rank: int) -> bool:
    """True when rank-k factors hold fewer numbers than the ``rows x cols`` kernel."""
    return check_rank(rank) <= break_even_rank(rows, cols)


def kernel_cost(rows: int, cols: int, rank: int) -> int:
    """Returns the numbers a ``rows x cols`` kernel kept at ``rank`` holds: the factors
    when they are smaller than the kernel, else the kernel itself."""
    if shrinks(rows, cols, rank):
        return factor_size(rows, cols, rank)
    return rows * cols


def break_even_text(rows: int, cols: int, rank: int) -> str:
    """Says why rank-k factors of a ``rows x cols`` kernel are not smaller, in words."""
    return (f"rank {rank} factors would hold {factor_size(rows, cols, rank):,} numbers, not "
            f"fewer than the {rows * cols:,} of the {rows}x{cols} kernel (break-even rank "
            f"{rows * cols / (rows + cols):.1f})")
