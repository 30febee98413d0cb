"""Training recipes and experiment loops that several notebooks share.

- `fit_autoencoder`: mini-batch Adam with a cosine-decayed step size, the
  course's default way to train an autoencoder on small data, optionally on
  randomly shifted copies of the images (`shift_images` draws the shifts).
- `fit_full_batch`: full-batch Adam, the recipe that trains a linear
  autoencoder all the way to PCA's subspace.
- `code_size_sweep`: trains one autoencoder per code size and compares their
  test errors with PCA's; `plot_mse_vs_code_size` draws the curves.
- `reconstruction_mse` and `linear_probe_accuracy`: how well a model copies an
  input, and how much a code tells about the label.

Every autoencoder here is trained to reconstruct its input: the targets are the
inputs themselves (self-supervised learning).
"""

import math
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from keras_ae._validation import check_batch, check_positive_int, check_positive_number
from keras_ae.evaluate.analysis import linear_probe_accuracy  # noqa: F401  (re-exported)
from keras_ae.evaluate.metrics import pca_baseline, reconstruction_mse
from keras_ae.utils import set_seed

__all__ = [
    "cosine_adam",
    "shuffled_batches",
    "fit_autoencoder",
    "shift_images",
    "fit_full_batch",
    "code_size_sweep",
    "plot_mse_vs_code_size",
]


def cosine_adam(learning_rate, decay_steps):
    """Adam whose learning rate falls from `learning_rate` to 0 on a cosine.

    The course's one optimizer recipe (every autoencoder, VAE and the registry's
    models): `decay_steps` is usually epochs x steps per epoch.
    """
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=decay_steps
    )
    return keras.optimizers.Adam(schedule)


def shuffled_batches(arrays, batch_size, seed):
    """The course's one training pipeline: cached, reshuffled each epoch, batched.

    Args:
        arrays: An array `(N, ...)` or a tuple of arrays with N rows each
            (inputs and targets, or images and labels).
        batch_size: Rows per batch; the last batch may be shorter.
        seed: Seed of the shuffle; each epoch draws a new order from it.

    Returns:
        A prefetched `tf.data.Dataset` of batches.
    """
    num_rows = len(arrays[0] if isinstance(arrays, tuple) else arrays)
    return (
        tf.data.Dataset.from_tensor_slices(arrays)
        .cache()
        .shuffle(num_rows, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def fit_autoencoder(
    model,
    x_train,
    *,
    num_epochs=100,
    batch_size=128,
    learning_rate=3e-3,
    loss="mse",
    validation_data=None,
    shift_pixels=0,
    seed=0,
    verbose=0,
):
    """Compiles and trains an autoencoder to reconstruct `x_train`.

    The recipe: Adam whose step size decays from `learning_rate` to 0 along a
    cosine over all the training steps, mini-batches of `batch_size` shuffled
    afresh each epoch. The data go through `tf.data`, which on small data sets
    is about twice as fast as passing NumPy arrays to `fit`.

    With `shift_pixels > 0` every image is moved by a random whole number of
    pixels, up to `shift_pixels` in each direction and drawn afresh in every
    epoch (see `shift_images`); input and target are the same shifted image.
    That is data augmentation: more different images to learn from, which
    lowers the test error of a model that overfits a small training set.

    Args:
        model: An uncompiled (or compiled: it is compiled again) autoencoder
            whose output has the shape of its input.
        x_train: Training inputs `(N, ...)`; they are also the targets.
        num_epochs: Number of passes over `x_train`.
        batch_size: Number of inputs per training step.
        learning_rate: Initial step size of Adam.
        loss: Reconstruction loss: `"mse"` or `"binary_crossentropy"` (for
            data in [0, 1] and a sigmoid output), or any Keras loss.
        validation_data: Optional inputs `(M, ...)` (targets are the inputs
            again) on which the loss is reported after every epoch as
            `val_loss`.
        shift_pixels: Largest random shift, in pixels, of the training images
            (images `(N, height, width, channels)` only); 0 trains on the images
            as they are.
        seed: Seed of the shuffling and of the shifts.
        verbose: Passed to `model.fit` (0: silent).

    Returns:
        The `keras.callbacks.History` of `model.fit`: one `loss` value per epoch,
        the mean training loss during that epoch.

    Example:

    >>> from keras_ae.data import load_dataset
    >>> from keras_ae.models.autoencoders import build_dense_autoencoder
    >>> (x_train, _), (x_val, _), _, _ = load_dataset("digits")  # 8x8 digits
    >>> autoencoder = build_dense_autoencoder((8, 8, 1), 8, hidden_units=(32,))
    >>> history = fit_autoencoder(autoencoder, x_train, num_epochs=2,
    ...                           validation_data=x_val, shift_pixels=1)
    >>> {name: len(values) for name, values in history.history.items()}
    {'loss': 2, 'val_loss': 2}
    """
    x_train = check_batch("x_train", x_train)
    num_epochs = check_positive_int("num_epochs", num_epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    learning_rate = check_positive_number("learning_rate", learning_rate)
    shift_pixels = _check_shift_pixels(shift_pixels, x_train)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    # One call into TensorFlow per epoch: the same steps, without Keras's
    # per-step Python overhead (which dominates on these small models).
    model.compile(
        optimizer=cosine_adam(learning_rate, num_epochs * steps_per_epoch),
        loss=loss,
        steps_per_execution=steps_per_epoch,
    )
    batches = _training_batches(x_train, batch_size, shift_pixels, seed)
    validation = None
    if validation_data is not None:
        x_val = check_batch("validation_data", validation_data)
        validation = tf.data.Dataset.from_tensor_slices((x_val, x_val)).batch(1024)
    return model.fit(
        batches,
        epochs=num_epochs,
        validation_data=validation,
        shuffle=False,  # the dataset shuffles; this silences Keras's warning
        verbose=verbose,
    )


def _training_batches(x, batch_size, shift_pixels, seed):
    """The `(inputs, targets)` batches of `fit_autoencoder`, targets = inputs."""
    batches = shuffled_batches(x, batch_size, seed)
    if shift_pixels:
        # A seed per batch from a stream that is drawn afresh each epoch.
        batch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        batches = tf.data.Dataset.zip(batches, batch_seeds).map(
            lambda images, batch_seed: shift_images(
                images, shift_pixels, seed=tf.stack([batch_seed, seed])
            )
        )
    return batches.map(lambda images: (images, images)).prefetch(tf.data.AUTOTUNE)


def _check_shift_pixels(shift_pixels, x):
    if (
        isinstance(shift_pixels, bool)
        or not isinstance(shift_pixels, (int, np.integer))
        or shift_pixels < 0
    ):
        raise ValueError(
            "Expected shift_pixels to be an integer >= 0. "
            f"Received: shift_pixels={shift_pixels!r}"
        )
    if shift_pixels and (x.ndim != 4 or shift_pixels >= min(x.shape[1:3])):
        raise ValueError(
            "Expected images (N, height, width, channels) larger than "
            f"shift_pixels. Received: shape {x.shape}, shift_pixels={shift_pixels}"
        )
    return int(shift_pixels)


def shift_images(images, max_shift, seed):
    """Moves each image by a random number of whole pixels; the gap is zeros.

    Each image gets its own shift `(dy, dx)`, both drawn uniformly from
    `-max_shift, ..., max_shift`; pixels shifted out are lost and the pixels
    shifted in are 0, the background of the digits. The draw is stateless:
    the same `seed` gives the same shifts.

    Args:
        images: Tensor or array `(N, height, width, channels)`.
        max_shift: Largest shift in pixels, an int >= 0 smaller than the height
            and the width.
        seed: Two integers, the seed of `tf.random.stateless_uniform`.

    Returns:
        A float32 tensor shaped like `images`.

    Example:

    >>> images = np.zeros((4, 5, 5, 1), "float32")
    >>> images[:, 2, 2] = 1.0  # one lit pixel in the middle
    >>> shifted = shift_images(images, max_shift=1, seed=(0, 0))
    >>> tf.reduce_sum(shifted, axis=(1, 2, 3)).numpy()  # moved, never lost
    array([1., 1., 1., 1.], dtype=float32)
    >>> bool(tf.reduce_all(shift_images(images, 1, seed=(0, 0)) == shifted))
    True
    """
    images = tf.convert_to_tensor(images, dtype="float32")
    if images.shape.rank != 4:
        raise ValueError(
            "Expected images of shape (N, height, width, channels). "
            f"Received: shape {images.shape}"
        )
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)):
        raise ValueError(
            f"Expected max_shift to be an int >= 0. Received: max_shift={max_shift!r}"
        )
    height, width = images.shape[1], images.shape[2]
    if not 0 <= max_shift < min(height, width):
        raise ValueError(
            f"Expected 0 <= max_shift < {min(height, width)}. "
            f"Received: max_shift={max_shift}"
        )
    if max_shift == 0:
        return images
    shifts = tf.random.stateless_uniform(
        (tf.shape(images)[0], 2),
        seed=tf.cast(seed, "int64"),
        minval=-max_shift,
        maxval=max_shift + 1,
        dtype="int32",
    )
    padded = tf.pad(images, [[0, 0], [max_shift] * 2, [max_shift] * 2, [0, 0]])
    # Output pixel (i, j) of image n reads padded pixel (i - dy + m, j - dx + m).
    rows = tf.range(height)[None, :] - shifts[:, :1] + max_shift  # (N, height)
    columns = tf.range(width)[None, :] - shifts[:, 1:] + max_shift  # (N, width)
    picked_rows = tf.gather(padded, rows, batch_dims=1)  # (N, height, W + 2m, C)
    return tf.gather(picked_rows, columns, axis=2, batch_dims=1)


def fit_full_batch(
    model, x, *, steps=3000, learning_rate=0.05, loss="mse", log_every=100, verbose=0
):
    """Trains an autoencoder with full-batch Adam and a cosine-decayed step size.

    Every step uses all of `x`, so the gradient has no mini-batch noise and a
    step size decaying to 0 lets the weights settle. This is what a linear
    autoencoder needs to find PCA's subspace when the last principal variances
    it keeps are close to the first ones it drops (as on MNIST at code size
    32): mini-batch Adam gets PCA's error but stops in a subspace tilted by
    tens of degrees in those directions.

    Args:
        model: An autoencoder whose output has the shape of its input.
        x: Training inputs `(N, ...)`, small enough to fit in memory at once;
            they are also the targets.
        steps: Number of gradient steps, a multiple of `log_every`.
        learning_rate: Initial step size of Adam; it decays to 0 at `steps`.
        loss: Reconstruction loss, `"mse"` by default.
        log_every: Number of steps per logged "epoch": the history gets
            `steps // log_every` values, each the mean loss over those steps.
        verbose: Passed to `model.fit`.

    Returns:
        The `keras.callbacks.History` of `model.fit`.

    Example:

    >>> from keras_ae.data import load_dataset
    >>> from keras_ae.evaluate.metrics import pca_baseline, reconstruction_mse
    >>> from keras_ae.models.autoencoders import build_linear_autoencoder
    >>> (x_train, _), _, _, _ = load_dataset("digits")
    >>> _ = set_seed(0)
    >>> linear = build_linear_autoencoder(input_shape=(8, 8, 1), code_size=4)
    >>> history = fit_full_batch(linear, x_train, steps=500, learning_rate=0.05)
    >>> len(history.history["loss"])  # 500 steps, logged every 100
    5
    >>> pca_mse = pca_baseline(x_train, x_train, 4)["mse"]
    >>> round(reconstruction_mse(linear, x_train) / pca_mse, 2)  # PCA's error
    1.0
    """
    x = check_batch("x", x)
    steps = check_positive_int("steps", steps)
    log_every = check_positive_int("log_every", log_every)
    learning_rate = check_positive_number("learning_rate", learning_rate)
    if steps % log_every:
        raise ValueError(
            "Expected steps to be a multiple of log_every. "
            f"Received: steps={steps}, log_every={log_every}"
        )
    model.compile(optimizer=cosine_adam(learning_rate, steps), loss=loss)
    full_batches = tf.data.Dataset.from_tensors((x, x)).repeat(steps)
    return model.fit(
        full_batches,
        epochs=steps // log_every,
        steps_per_epoch=log_every,
        shuffle=False,
        verbose=verbose,
    )


def code_size_sweep(
    build_fn,
    x_train,
    x_test,
    code_sizes,
    *,
    num_epochs=100,
    batch_size=128,
    learning_rate=3e-3,
    loss="mse",
    shift_pixels=0,
    seed=0,
    with_pca=True,
):
    """Trains one autoencoder per code size; returns their errors and PCA's.

    For each code size the seeds are reset to `seed`, `build_fn(code_size)`
    builds a fresh model and `fit_autoencoder` trains it on `x_train`.

    Args:
        build_fn: Function `code_size -> uncompiled autoencoder`, e.g.
            `lambda k: build_dense_autoencoder((28, 28, 1), code_size=k)`.
        x_train: Training inputs `(N, ...)`.
        x_test: Test inputs `(M, ...)`, never trained on.
        code_sizes: Sequence of positive code sizes, e.g. `(2, 4, 8, 16)`.
        num_epochs: Training epochs of each model.
        batch_size: Mini-batch size.
        learning_rate: Initial step size of Adam (cosine-decayed to 0).
        loss: Reconstruction loss used for training.
        shift_pixels: Largest random shift of the training images, as in
            `fit_autoencoder` (0: no shifts).
        seed: Seed set before building and training each model.
        with_pca: Whether to add PCA's test error at each code size.

    Returns:
        A dict of lists, one entry per code size: `code_sizes`, `train_mse` and
        `test_mse` (mean squared error per pixel), `seconds` (training time),
        `models` (the trained models) and, if `with_pca`, `pca_mse` (test error
        of PCA with as many components as the code has units).

    Example:

    >>> from keras_ae.data import load_dataset
    >>> from keras_ae.models.autoencoders import build_dense_autoencoder
    >>> (x_train, _), _, (x_test, _), _ = load_dataset("digits")
    >>> sweep = code_size_sweep(
    ...     lambda k: build_dense_autoencoder((8, 8, 1), k, hidden_units=(16,)),
    ...     x_train, x_test, code_sizes=(2, 8), num_epochs=1)
    >>> sweep["code_sizes"], len(sweep["test_mse"]), len(sweep["models"])
    ([2, 8], 2, 2)
    >>> sweep["pca_mse"][1] < sweep["pca_mse"][0]  # more components, less error
    True
    """
    x_train = check_batch("x_train", x_train)
    x_test = check_batch("x_test", x_test)
    if not callable(build_fn):
        raise ValueError(
            f"Expected build_fn to be a function code_size -> model. "
            f"Received: build_fn={build_fn!r}"
        )
    if isinstance(code_sizes, (int, np.integer)) or not hasattr(code_sizes, "__len__"):
        raise ValueError(
            "Expected code_sizes to be a sequence of positive integers, e.g. "
            f"(2, 4, 8, 16). Received: code_sizes={code_sizes!r}"
        )
    if len(code_sizes) == 0:
        raise ValueError("Expected at least one code size. Received: code_sizes=()")
    code_sizes = [check_positive_int("code_size", k) for k in code_sizes]
    result = {
        "code_sizes": code_sizes,
        "train_mse": [],
        "test_mse": [],
        "seconds": [],
        "models": [],
    }
    for code_size in code_sizes:
        set_seed(seed)
        model = build_fn(code_size)
        start = time.perf_counter()
        fit_autoencoder(
            model,
            x_train,
            num_epochs=num_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            loss=loss,
            shift_pixels=shift_pixels,
            seed=seed,
        )
        result["seconds"].append(time.perf_counter() - start)
        result["train_mse"].append(reconstruction_mse(model, x_train))
        result["test_mse"].append(reconstruction_mse(model, x_test))
        result["models"].append(model)
    if with_pca:
        result["pca_mse"] = [
            pca_baseline(x_train, x_test, code_size)["mse"] for code_size in code_sizes
        ]
    return result


def plot_mse_vs_code_size(
    code_sizes, curves, *, log_scale=True, figsize=(5, 3.5), title=None
):
    """Plots test reconstruction error against code size, one line per method.

    Args:
        code_sizes: The code sizes (x axis), e.g. `sweep["code_sizes"]`.
        curves: Dict from a label to the errors at `code_sizes`, e.g.
            `{"PCA": sweep["pca_mse"], "dense AE": sweep["test_mse"]}`.
        log_scale: Whether both axes are logarithmic (base 2 for code sizes).
        figsize: Figure size in inches.
        title: Optional axes title.

    Returns:
        A `matplotlib.figure.Figure` with one axes holding one line per curve,
        in the order of `curves`, each with the code sizes as x data.

    Example:

    >>> fig = plot_mse_vs_code_size([2, 8, 32],
    ...                             {"PCA": [0.050, 0.030, 0.010],
    ...                              "dense AE": [0.040, 0.020, 0.012]})
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['PCA', 'dense AE']
    """
    code_sizes = np.asarray(code_sizes, dtype="float64")
    if code_sizes.ndim != 1 or len(code_sizes) == 0:
        raise ValueError(
            "Expected code_sizes to be a non-empty sequence of numbers. "
            f"Received: code_sizes={code_sizes!r}"
        )
    if not isinstance(curves, dict) or not curves:
        raise ValueError(
            "Expected curves to be a non-empty dict of label -> errors. "
            f"Received: curves={curves!r}"
        )
    for label, values in curves.items():
        if len(values) != len(code_sizes):
            raise ValueError(
                f"Expected one value per code size ({len(code_sizes)}) in curve "
                f"{label!r}. Received: {len(values)} values"
            )
    fig, axis = plt.subplots(figsize=figsize)
    for label, values in curves.items():
        axis.plot(code_sizes, np.asarray(values, dtype="float64"), "o-", label=label)
    if log_scale:
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
    axis.set_xticks(code_sizes, [f"{k:g}" for k in code_sizes])
    axis.set_xlabel("code_size")
    axis.set_ylabel("test MSE per pixel")
    axis.legend()
    if title:
        axis.set_title(title)
    fig.tight_layout()
    return fig
