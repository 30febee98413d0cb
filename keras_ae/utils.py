"""Seeding, run profiles and batched calls shared by notebooks, tests and commands."""

import os
import random

import numpy as np

__all__ = [
    "set_seed",
    "predict_batches",
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


def predict_batches(model_or_fn, x, batch_size=1024, *, first_output=False):
    """Calls a Keras model (in inference mode) or a function on `x` in batches.

    A direct call per batch rather than `model.predict`, which builds a new
    `tf.function` for every model it sees (slow when a notebook measures many
    small models). `x` may be an array or a list of arrays (a model with
    several inputs); batches are rows `[i, i + batch_size)` of each.

    Args:
        model_or_fn: A `keras.Model` (called with `training=False`) or any
            function of a batch.
        x: Array `(N, ...)`, or a list of arrays with N rows each.
        batch_size: Rows per call, int >= 1.
        first_output: For a model with several outputs (a VAE encoder's
            `[z_mean, z_log_var]`), keep the first; otherwise such a model is
            a ValueError.

    Returns:
        The outputs of all batches, concatenated, as a NumPy array.

    Example:
        >>> import keras
        >>> double = keras.layers.Rescaling(2.0)
        >>> predict_batches(double, np.arange(5.0).reshape(5, 1), batch_size=2).ravel()
        array([0., 2., 4., 6., 8.], dtype=float32)
    """
    import keras

    if not callable(model_or_fn):
        raise ValueError(
            "Expected a Keras model or a function of a batch of inputs. "
            f"Received: {model_or_fn!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(
            f"Expected batch_size to be an int >= 1. Received: {batch_size!r}"
        )
    if batch_size < 1:
        raise ValueError(
            f"Expected batch_size to be an int >= 1. Received: {batch_size!r}"
        )
    parts = list(x) if isinstance(x, (list, tuple)) else [x]
    num_rows = len(parts[0])
    is_model = isinstance(model_or_fn, keras.layers.Layer)
    outputs = []
    for start in range(0, num_rows, batch_size):
        batch = [part[start : start + batch_size] for part in parts]
        batch = batch if len(batch) > 1 else batch[0]
        output = model_or_fn(batch, training=False) if is_model else model_or_fn(batch)
        if isinstance(output, (list, tuple, dict)):
            if not first_output or isinstance(output, dict):
                raise ValueError(
                    "Expected a model with a single output (or first_output=True). "
                    f"Received: outputs of type {type(output).__name__}"
                )
            output = output[0]
        outputs.append(np.asarray(keras.ops.convert_to_numpy(output)))
    return np.concatenate(outputs)
