"""Sequence autoencoders: windows of a long series, builders, per-step scores.

A long series is cut into overlapping windows (`sliding_windows`); an
autoencoder built here reconstructs each window; `reconstruction_scores` turns
the windows' per-step errors back into one score per time step of the series
(`overlap_average`), so a threshold on it marks anomalous time steps.

Builders (each returns an uncompiled Functional `keras.Model` whose output has
the input's shape `(window_size, num_channels)`):

- `build_conv1d_autoencoder`: strided `Conv1D` down, `Conv1DTranspose` up (as
  keras.io's time-series anomaly detection example); any window length: it is
  zero-padded inside the model to a multiple of `2 ** len(filters)` and the
  output cropped back.
- `build_recurrent_autoencoder`: an LSTM or GRU reads the window into a code
  vector; the decoder repeats the code at every step and a second recurrent
  layer writes the window back (Hands-On ML's recurrent autoencoder).
- `build_sequence_vae_encoder` / `build_sequence_vae_decoder`: a convolutional
  encoder to `[z_mean, z_log_var]` and a decoder from `z`, for
  `keras_ae.models.vae.VAE(..., reconstruction="gaussian")`, which generates series.
"""

import math

import keras
import numpy as np

from keras_ae._validation import check_positive_int, check_units

__all__ = [
    "sliding_windows",
    "overlap_average",
    "build_conv1d_autoencoder",
    "build_recurrent_autoencoder",
    "build_sequence_vae_encoder",
    "build_sequence_vae_decoder",
]


def _as_series(series, dtype="float32"):
    series = np.asarray(series, dtype=dtype)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2 or len(series) == 0:
        raise ValueError(
            "Expected a series of shape (time_steps,) or (time_steps, channels). "
            f"Received: shape={series.shape}"
        )
    return series


def _check_window(window_size, stride, length):
    window_size = check_positive_int("window_size", window_size)
    stride = check_positive_int("stride", stride)
    if window_size > length:
        raise ValueError(
            f"Expected window_size <= the series length {length}. "
            f"Received: window_size={window_size}"
        )
    return window_size, stride


def sliding_windows(series, window_size, stride=1, center=False):
    """Cuts a series into windows of `window_size` steps, `stride` steps apart.

    Windows start at `0, stride, 2 * stride, ...`; the last one ends at or
    before the series' end (steps after it are in no window when `stride` does
    not divide `T - window_size`).

    Args:
        series: Array `(T,)` or `(T, channels)`.
        window_size: Steps per window, 1 <= window_size <= T.
        stride: Steps between the starts of two windows, >= 1.
        center: If True, subtract each window's own mean (per channel): a
            model of centered windows sees shapes, not levels, so a slow trend
            does not look anomalous.

    Returns:
        float32 array `(num_windows, window_size, channels)`, a copy.

    Example:
        >>> sliding_windows(np.arange(5), window_size=3, stride=2)[..., 0]
        array([[0., 1., 2.],
               [2., 3., 4.]], dtype=float32)
    """
    series = _as_series(series)
    window_size, stride = _check_window(window_size, stride, len(series))
    windows = np.lib.stride_tricks.sliding_window_view(series, window_size, axis=0)
    windows = np.ascontiguousarray(windows[::stride].transpose(0, 2, 1))
    if center:
        windows -= windows.mean(axis=1, keepdims=True)
    return windows


def overlap_average(window_values, length, stride=1):
    """Averages per-step values of overlapping windows back onto the series.

    The inverse of `sliding_windows` for one number per step: time step `t`
    gets the mean of the values that the windows covering `t` give it, and NaN
    if no window covers it.

    Args:
        window_values: Array `(num_windows, window_size)`, e.g. `step_errors`.
        length: Length `T` of the series the windows were cut from.
        stride: The `stride` the windows were cut with.

    Returns:
        float64 array `(T,)`.
    """
    values = np.asarray(window_values, dtype="float64")
    if values.ndim != 2:
        raise ValueError(
            "Expected window_values of shape (num_windows, window_size). "
            f"Received: shape={values.shape}"
        )
    num_windows, window_size = values.shape
    stride = check_positive_int("stride", stride)
    if (num_windows - 1) * stride + window_size > length:
        raise ValueError(
            f"Expected {num_windows} windows of {window_size} steps, {stride} apart, "
            f"to fit in length={length}"
        )
    total, count = np.zeros(length), np.zeros(length)
    for index in range(window_size):  # one vectorized pass per window offset
        steps = np.arange(num_windows) * stride + index
        np.add.at(total, steps, values[:, index])
        np.add.at(count, steps, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _padded_length(window_size, depth):
    factor = 2**depth
    return math.ceil(window_size / factor) * factor


def build_conv1d_autoencoder(
    window_size,
    num_channels=1,
    filters=(32, 16),
    kernel_size=7,
    activation="relu",
    name="conv1d_autoencoder",
):
    """Builds a 1-D convolutional autoencoder of windows.

    The encoder is `len(filters)` strided `Conv1D` layers (stride 2, "same"
    padding); the decoder mirrors it with `Conv1DTranspose` layers and ends in a
    linear `Conv1D` with `num_channels` filters, so the output is unbounded (use
    standardized series and the MSE).

    Args:
        window_size: Steps per window, any length >= 1 (padded inside the model
            to a multiple of `2 ** len(filters)`, then cropped back).
        num_channels: Channels per step.
        filters: Filters of the encoder's layers; the code has
            `filters[-1]` channels of `padded_length / 2 ** len(filters)` steps.
        kernel_size: Length of every convolution kernel.
        activation: Activation of the hidden layers.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` with sub-models `encoder` and
        `decoder`.

    Example:
        >>> model = build_conv1d_autoencoder(window_size=90)
        >>> model.output_shape
        (None, 90, 1)
    """
    window_size = check_positive_int("window_size", window_size)
    num_channels = check_positive_int("num_channels", num_channels)
    filters = check_units("filters", filters, "(32, 16)")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    padded = _padded_length(window_size, len(filters))
    inputs = keras.Input(shape=(window_size, num_channels), name="windows")
    x = inputs
    if padded != window_size:
        x = keras.layers.ZeroPadding1D((0, padded - window_size), name="pad")(x)
    for i, units in enumerate(filters, start=1):
        x = keras.layers.Conv1D(
            units, kernel_size, strides=2, padding="same", activation=activation,
            name=f"conv_{i}",
        )(x)  # fmt: skip
    encoder = keras.Model(inputs, x, name="encoder")
    code = keras.Input(shape=encoder.output_shape[1:], name="code")
    y = code
    for i, units in enumerate(reversed(filters), start=1):
        y = keras.layers.Conv1DTranspose(
            units, kernel_size, strides=2, padding="same", activation=activation,
            name=f"deconv_{i}",
        )(y)  # fmt: skip
    y = keras.layers.Conv1D(num_channels, kernel_size, padding="same", name="steps")(y)
    if padded != window_size:
        y = keras.layers.Cropping1D((0, padded - window_size), name="crop")(y)
    decoder = keras.Model(code, y, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name=name)


def build_recurrent_autoencoder(
    window_size,
    num_channels=1,
    units=64,
    code_size=16,
    cell="lstm",
    name="recurrent_autoencoder",
):
    """Builds an LSTM or GRU autoencoder of windows.

    Encoder: a recurrent layer of `units` reads the window; its last state goes
    through a Dense layer to a code of `code_size` numbers. Decoder: the code is
    repeated at every step (`RepeatVector`), a recurrent layer returns a
    sequence, and a Dense layer applied at every step gives `num_channels`
    linear outputs.

    Args:
        window_size: Steps per window.
        num_channels: Channels per step.
        units: Units of each recurrent layer.
        code_size: Size of the code vector.
        cell: `"lstm"` or `"gru"`.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` with sub-models `encoder` and
        `decoder`.
    """
    window_size = check_positive_int("window_size", window_size)
    num_channels = check_positive_int("num_channels", num_channels)
    units = check_positive_int("units", units)
    code_size = check_positive_int("code_size", code_size)
    layers = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    if cell not in layers:
        raise ValueError(
            f"Expected cell to be one of {tuple(layers)}. Received: cell={cell!r}"
        )
    recurrent = layers[cell]
    inputs = keras.Input(shape=(window_size, num_channels), name="windows")
    x = recurrent(units, name=f"{cell}_encoder")(inputs)
    encoder = keras.Model(
        inputs, keras.layers.Dense(code_size, name="code")(x), name="encoder"
    )
    code = keras.Input(shape=(code_size,), name="code")
    y = keras.layers.RepeatVector(window_size, name="repeat")(code)
    y = recurrent(units, return_sequences=True, name=f"{cell}_decoder")(y)
    y = keras.layers.Dense(num_channels, name="steps")(y)
    decoder = keras.Model(code, y, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name=name)


def build_sequence_vae_encoder(
    window_size,
    num_channels=1,
    latent_dim=4,
    filters=(32, 64),
    kernel_size=5,
    name="encoder",
):
    """Builds a VAE encoder of series: strided Conv1D layers, then two heads.

    Returns:
        An uncompiled Functional `keras.Model` mapping `(window_size,
        num_channels)` to `[z_mean, z_log_var]`, each `(latent_dim,)`, in
        float32, as `keras_ae.models.vae.VAE` expects.
    """
    window_size = check_positive_int("window_size", window_size)
    num_channels = check_positive_int("num_channels", num_channels)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    filters = check_units("filters", filters, "(32, 64)")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    inputs = keras.Input(shape=(window_size, num_channels), name="series")
    x = inputs
    for i, units in enumerate(filters, start=1):
        x = keras.layers.Conv1D(
            units, kernel_size, strides=2, padding="same", activation="relu",
            name=f"conv_{i}",
        )(x)  # fmt: skip
    x = keras.layers.Flatten(name="flatten")(x)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean", dtype="float32")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var", dtype="float32")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def build_sequence_vae_decoder(
    window_size,
    num_channels=1,
    latent_dim=4,
    hidden_units=(64, 128),
    name="decoder",
):
    """Builds a VAE decoder of series: Dense layers to all the steps at once.

    The last layer is linear (a Gaussian likelihood's mean), reshaped to
    `(window_size, num_channels)`.
    """
    window_size = check_positive_int("window_size", window_size)
    num_channels = check_positive_int("num_channels", num_channels)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = check_units("hidden_units", hidden_units, "(64, 128)")
    latent = keras.Input(shape=(latent_dim,), name="z")
    x = latent
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    x = keras.layers.Dense(window_size * num_channels, name="steps", dtype="float32")(x)
    outputs = keras.layers.Reshape((window_size, num_channels), name="series")(x)
    return keras.Model(latent, outputs, name=name)
