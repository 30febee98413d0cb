"""Seeding and run profiles shared by every notebook, test and command."""

import os
import random

import numpy as np

__all__ = [
    "set_seed",
    "profile",
    "pick",
    "PROFILE_ENV",
    "PROFILES",
]

PROFILE_ENV = "KERAS_AE_PROFILE"
PROFILES = ("full", "fast")


def set_seed(seed=0):
    """Seeds Python, NumPy, TensorFlow and Keras in one call.

    Args:
        seed: Non-negative integer.

    Returns:
        The seed, so a notebook can print it.

    Example:
        >>> set_seed(0)
        0
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(
            f"Expected seed to be an integer >= 0. Received: seed={seed!r}"
        )
    import keras

    random.seed(seed)
    np.random.seed(seed)
    # Seeds Python, NumPy and the backend (TensorFlow) random generators.
    keras.utils.set_random_seed(int(seed))
    return int(seed)


def profile():
    """Returns the run profile: "full" (the default) or "fast".

    The fast profile is for automated runs (CI, `python -m keras_ae course --fast`):
    it is chosen by setting the environment variable `KERAS_AE_PROFILE=fast`.
    """
    name = os.environ.get(PROFILE_ENV, "full").strip().lower() or "full"
    if name not in PROFILES:
        raise ValueError(
            f"Expected {PROFILE_ENV} to be one of {PROFILES}. Received: {name!r}"
        )
    return name


def pick(full, fast):
    """Returns `full` normally and `fast` under the fast profile.

    Notebooks use it in their parameters cell, for example
    `num_epochs = pick(300, fast=3)`: you get 300 epochs, CI gets 3.
    """
    return fast if profile() == "fast" else full
