"""Argument checks shared by the builders.

Each raises a `ValueError` saying what was expected and what was received, as
`"Expected code_size > 0. Received: code_size=-3"`, and returns the value in a
plain Python form (an int, a tuple of ints).
"""

import numbers

import numpy as np

__all__ = [
    "check_int",
    "is_number",
    "is_int",
    "check_seed",
    "check_positive_int",
    "check_units",
    "check_shape",
    "check_spatial_shape",
    "check_positive_number",
    "check_batch",
]


def check_positive_int(name, value):
    """Checks that `value` is an integer > 0; returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"Expected {name} to be a positive integer. Received: {name}={value!r}"
        )
    if value <= 0:
        raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}")
    return int(value)


def check_units(name, units, example, allow_empty=False):
    """Checks a non-empty sequence of positive integers; returns it as a tuple.

    `example` (such as `"(256, 128)"`) is quoted in the error message. With
    `allow_empty`, `()` is accepted too (no hidden layer).
    """
    if isinstance(units, (str, bytes)) or not hasattr(units, "__len__"):
        raise ValueError(
            f"Expected {name} to be a tuple of positive integers, e.g. {example}. "
            f"Received: {name}={units!r}"
        )
    if (len(units) == 0 and not allow_empty) or not all(
        isinstance(u, (int, np.integer)) and not isinstance(u, bool) and u > 0
        for u in units
    ):
        raise ValueError(
            f"Expected {name} to be a non-empty tuple of positive integers, "
            f"e.g. {example}. Received: {name}={tuple(units)!r}"
        )
    return tuple(int(u) for u in units)


def check_shape(name, shape, rank=None):
    """Checks a shape: `rank` dimensions (any number if None), all positive."""
    if rank == 3:
        wanted = "a tuple (height, width, channels) of positive integers"
    else:
        wanted = "a non-empty tuple of positive integers, such as (28, 28, 1) or (64,)"
    if (
        isinstance(shape, (str, bytes))
        or not hasattr(shape, "__len__")
        or len(shape) == 0
        or (rank is not None and len(shape) != rank)
        or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
            for d in shape
        )
    ):
        received = tuple(shape) if isinstance(shape, (list, tuple)) else shape
        raise ValueError(
            f"Expected {name} to be {wanted}. Received: {name}={received!r}"
        )
    return tuple(int(d) for d in shape)


def check_spatial_shape(name, shape, filters):
    """Checks that `len(filters)` stride-2 stages fit the height and width.

    Returns the height and width after those stages, `(H // 2**n, W // 2**n)`.
    """
    factor = 2 ** len(filters)
    height, width = shape[0], shape[1]
    role = "input" if name == "input_shape" else "output"
    if height % factor or width % factor:
        raise ValueError(
            f"Expected {role} height and width divisible by {factor} "
            f"(2 ** len(filters)). Received: {name}={shape}"
        )
    return height // factor, width // factor


def check_positive_number(name, value):
    """Checks that `value` is a real number > 0; returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"Expected {name} to be a number. Received: {name}={value!r}")
    if not value > 0:
        raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}")
    return float(value)


def check_batch(name, x):
    """Checks a non-empty batch `(N, ...)`; returns it as a float32 array."""
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            f"Expected {name} to be a non-empty batch of shape (N, ...). "
            f"Received: {name}.shape={x.shape}"
        )
    return x


def is_number(value):
    """True for a real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value):
    """True for an integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed(seed):
    """Returns `seed` as an int, or None; raises ValueError for anything else."""
    if seed is not None and not is_int(seed):
        raise ValueError(f"Expected seed to be an int or None. Received: seed={seed!r}")
    return None if seed is None else int(seed)


def check_int(name, value, minimum):
    """Checks that `value` is an int (not a bool) >= `minimum`; returns it as an int."""
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"Expected {name} to be an int >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)
