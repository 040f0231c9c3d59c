"""Argument checks shared by the Python API, the notebooks and the command line.

Every check raises an error that names the argument, the value received and what is
allowed, so a bad request fails at once and says how to fix it.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable


def _is_int(value) -> bool:
    # bool is an int subclass; True as a rank is a mistake, not 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(
    name: str, value, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Checks that ``value`` is an integer within ``[minimum, maximum]``.

    Args:
        name: Name of the argument, used in the error message.
        value: Value received.
        minimum: Smallest allowed value, or ``None`` for no bound. Defaults to ``None``.
        maximum: Largest allowed value, or ``None`` for no bound. Defaults to ``None``.

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        TypeError: if ``value`` is not an integer.
        ValueError: if ``value`` is out of range.
    """
    if not _is_int(value):
        raise TypeError(
            f"{name} must be an integer{_range_text(minimum, maximum)}, "
            f"received {value!r} of type {type(value).__name__}."
        )
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(
            f"{name} must be an integer{_range_text(minimum, maximum)}, received {value}."
        )
    return value


def _range_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum} and {maximum}"
    if minimum is not None:
        return " >= 0" if minimum == 0 else f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_rank(rank, maximum: int | None = None, name: str = "rank") -> int:
    """Checks that ``rank`` is a positive integer, at most ``maximum`` when given.

    Args:
        rank: Value received.
        maximum: Largest rank allowed (for example a layer's ``min(m, n)``), or ``None``.
            Defaults to ``None``.
        name: Name of the argument in messages. Defaults to ``"rank"``.
    """
    return check_int(name, rank, minimum=1, maximum=maximum)


def check_choice(name: str, value, allowed: Iterable[str]) -> str:
    """Checks that ``value`` is one of ``allowed``.

    Args:
        name: Name of the argument, used in the error message.
        value: Value received.
        allowed: The allowed values.

    Raises:
        ValueError: if ``value`` is not allowed.
    """
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(a) for a in allowed)}; "
            f"received {value!r}."
        )
    return value


def check_bool(name: str, value) -> bool:
    """Checks that ``value`` is ``True`` or ``False``.

    Raises:
        TypeError: for anything else (including 0 and 1), naming ``name`` and the value.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; received {value!r}.")
    return value


def check_seed(seed, allow_none: bool = True, name: str = "seed") -> int | None:
    """Checks a random seed: an integer from 0 to 2**32 - 1 (numpy's range), or ``None``.

    Args:
        seed: Value received.
        allow_none: Whether ``None`` (a fresh random seed) is allowed. Defaults to ``True``.
        name: Name of the argument in messages. Defaults to ``"seed"``.
    """
    if seed is None and allow_none:
        return None
    return check_int(name, seed, minimum=0, maximum=2**32 - 1)


def check_number(name: str, value, minimum: float | None = None, maximum: float | None = None,
                 include_minimum: bool = True, include_maximum: bool = True) -> float:
    """Checks that ``value`` is a finite real number within the given bounds.

    Args:
        name: Name of the argument, used in the error message.
        value: Value received.
        minimum: Lower bound, or ``None`` for none. Defaults to ``None``.
        maximum: Upper bound, or ``None`` for none. Defaults to ``None``.
        include_minimum: Whether ``minimum`` itself is allowed. Defaults to ``True``.
        include_maximum: Whether ``maximum`` itself is allowed. Defaults to ``True``.

    Returns:
        ``value`` as a Python ``float``.

    Raises:
        TypeError: if ``value`` is not a real number (``bool`` included).
        ValueError: if it is NaN, infinite or out of range.
    """
    low = "" if minimum is None else f"{minimum:g} {'<=' if include_minimum else '<'} "
    high = "" if maximum is None else f" {'<=' if include_maximum else '<'} {maximum:g}"
    allowed = f"a number with {low}{name}{high}" if low or high else "a finite number"
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be {allowed}; received {value!r} of type "
                        f"{type(value).__name__}.")
    value = float(value)
    too_low = minimum is not None and (value < minimum or (value == minimum and not include_minimum))
    too_high = maximum is not None and (value > maximum or (value == maximum and not include_maximum))
    if value != value or value in (float("inf"), float("-inf")) or too_low or too_high:
        raise ValueError(f"{name} must be {allowed}; received {value!r}.")
    return value
