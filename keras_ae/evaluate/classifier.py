"""A small, deterministic digit classifier for judging generated images.

A generative model is good when its samples look like the data. A classifier
trained on the real images gives two numbers for that: which classes the samples
are recognised as (`class_histogram`: a model that forgets some digits shows
holes), and features to compare real and generated images with a Frechet
distance (`features`). `get_classifier` trains the classifier once per data set
and image size and keeps it in a cache folder, so every notebook uses the same.

Example:
    The first call trains for minutes, later ones load the cached file:

    >>> # Not run as a doctest: it trains 45 epochs unless the cache holds it.
    >>> classifier = get_classifier("mnist_5k")  # doctest: +SKIP
    keras_ae.evaluate.classifier: mnist_5k 28x28 classifier, test accuracy 0.98...
    (loaded from .../classifier_mnist_5k_28x28_seed0_v3.keras)

    The same calls on an untrained 8 x 8 classifier standing in for it:

    >>> classifier = build_classifier(input_shape=(8, 8, 1))
    >>> images = np.random.default_rng(0).random((20, 8, 8, 1))  # or samples
    >>> histogram = class_histogram(classifier, images)
    >>> histogram.shape, float(histogram.sum())
    ((10,), 1.0)
    >>> features(classifier, images).shape  # the 128 units of "features"
    (20, 128)
"""

import contextlib
import os
import pathlib

import keras
import numpy as np

from keras_ae.data import default_dataset, load_dataset
from keras_ae.utils import set_seed

__all__ = [
    "DEFAULT_CACHE_DIR",
    "FEATURES_LAYER",
    "RECIPE_VERSION",
    "SHIFT_FRACTION",
    "ROTATION_FRACTION",
    "build_classifier",
    "accuracy",
    "train_classifier",
    "get_classifier",
    "features",
    "class_histogram",
]


DEFAULT_CACHE_DIR = pathlib.Path("~/.cache/keras_ae")


FEATURES_LAYER = "features"


# Default number of epochs: about this many training examples seen in all.
_EXAMPLES_TO_SEE = 157_500


# Part of the cache file's name: change it whenever the recipe below changes, so
# that a classifier trained by an older recipe is never loaded by mistake.
RECIPE_VERSION = "v3"


# Training-time augmentation: shifts of up to this fraction of the image side and
# rotations of up to this fraction of a full turn.
SHIFT_FRACTION = 0.08


ROTATION_FRACTION = 0.03


def build_classifier(
    input_shape=(28, 28, 1),
    num_classes=10,
    filters=(32, 64),
    feature_units=128,
    name="classifier",
):
    """Builds a small convolutional classifier.

    Each stage is a 3x3 `Conv2D` (ReLU, "same" padding) and a 2x2 max pooling;
    then a Dense layer of `feature_units` ReLU units, named `"features"` (what
    `features` returns), and a softmax over the classes.

    Args:
        input_shape: `(height, width, channels)` of the images.
        num_classes: Number of classes, >= 2.
        filters: Filters of the convolution stages.
        feature_units: Units of the penultimate (features) layer.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images to class
        probabilities `(batch, num_classes)`.

    Example:
        >>> model = build_classifier(input_shape=(8, 8, 1), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(isinstance(d, (int, np.integer)) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            "Expected input_shape to be (height, width, channels) of positive "
            f"integers. Received: input_shape={input_shape!r}"
        )
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(
            f"Expected num_classes >= 2. Received: num_classes={num_classes!r}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = inputs
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            num_filters, 3, padding="same", activation="relu", name=f"conv_{i}"
        )(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(feature_units, activation="relu", name=FEATURES_LAYER)(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


@contextlib.contextmanager
def _op_determinism():
    """Turns on TensorFlow's op determinism for the block, then restores it.

    On a CPU, TensorFlow's kernels for this model already repeat exactly; on a
    GPU some (reductions, convolution algorithms) do not unless op determinism is
    on. It is a process-wide switch that slows some GPU ops and makes others
    raise, so it is switched back off afterwards (with TensorFlow's internal
    `disable_op_determinism`, as there is no public one; if that is missing it
    stays on).
    """
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_enabled = getattr(tf_config, "is_op_determinism_enabled", lambda: False)()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        disable = getattr(tf_config, "disable_op_determinism", None)
        if not was_enabled and disable is not None:
            disable()


def _default_epochs(num_examples):
    return int(min(45, max(3, round(_EXAMPLES_TO_SEE / num_examples))))


def accuracy(model, x, y, batch_size=256):
    """Fraction of `x` whose most probable class is `y`."""
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(predictions.argmax(axis=1) == np.asarray(y).reshape(-1)))


def train_classifier(
    x_train,
    y_train,
    x_val,
    y_val,
    seed=0,
    epochs=None,
    batch_size=64,
    learning_rate=1e-3,
    augment=True,
):
    """Trains `build_classifier` and keeps the epoch best on the validation split.

    The training images are randomly shifted and rotated a little in every
    epoch (`augment`), which matters with a few thousand images. After training,
    the weights of the epoch with the highest validation accuracy are restored:
    the validation split chooses the number of epochs, and the test split stays
    unseen. The run is repeatable: it seeds Python, NumPy and Keras with
    `keras_ae.utils.set_seed(seed)` and turns on TensorFlow's op determinism
    while it trains, so the same seed gives the same weights on a given machine.

    Args:
        x_train: Images `(N, H, W, C)`, float in [0, 1].
        y_train: Integer labels `(N,)`.
        x_val: Validation images.
        y_val: Validation labels.
        seed: Int >= 0.
        epochs: Most epochs; None gives about 157,500 training examples seen
            (45 epochs for 3,500 images; at least 3, at most 45).
        batch_size: Batch size.
        learning_rate: Adam's learning rate.
        augment: Whether to shift and rotate the training images.

    Returns:
        `(model, validation_accuracy)`; `model` has no augmentation layers.

    Example:
        >>> (x_train, y_train), (x_val, y_val), _, _ = load_dataset("digits")
        >>> model, val_accuracy = train_classifier(
        ...     x_train, y_train, x_val, y_val, epochs=1)  # the default: 45 here
        >>> model.output_shape, 0.0 <= val_accuracy <= 1.0
        ((None, 10), True)
    """
    x_train, x_val = np.asarray(x_train), np.asarray(x_val)
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError(
            "Expected as many labels as images. Received: "
            f"{len(x_train)} and {len(y_train)} (train), "
            f"{len(x_val)} and {len(y_val)} (validation)"
        )
    num_classes = int(max(y_train.max(), y_val.max())) + 1
    epochs = _default_epochs(len(x_train)) if epochs is None else epochs
    with _op_determinism():
        set_seed(seed)
        model = build_classifier(x_train.shape[1:], num_classes)
        trained = _with_augmentation(model, seed) if augment else model
        trained.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        best_on_validation = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=epochs, restore_best_weights=True
        )
        trained.fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=(x_val, y_val),
            callbacks=[best_on_validation],
            verbose=0,
        )
    return model, accuracy(model, x_val, y_val)


def _with_augmentation(model, seed):
    inputs = keras.Input(shape=model.input_shape[1:], name="images")
    x = keras.layers.RandomTranslation(
        SHIFT_FRACTION, SHIFT_FRACTION, fill_mode="constant", seed=seed
    )(inputs)
    x = keras.layers.RandomRotation(
        ROTATION_FRACTION, fill_mode="constant", seed=seed + 1
    )(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_augmented")


def _cache_path(cache_dir, dataset_name, image_shape, seed):
    folder = pathlib.Path(cache_dir or DEFAULT_CACHE_DIR).expanduser()
    height, width = image_shape[:2]
    return folder / (
        f"classifier_{dataset_name}_{height}x{width}_seed{seed}_{RECIPE_VERSION}.keras"
    )


def get_classifier(dataset=None, image_size=None, cache_dir=None, seed=0):
    """Returns the course's classifier for a data set, training it only once.

    The first call trains it with `train_classifier` on the training split
    (the validation split picks the epoch), in a fresh Python process so that
    the caller's random generators are left alone, and saves it as
    `classifier_<dataset>_<height>x<width>_seed<seed>_<RECIPE_VERSION>.keras` in
    `cache_dir`; later calls load that file. Either way it prints the
    classifier's accuracy on the test split, which it never trained on. The file
    is named after the data set actually loaded: if MNIST is not available and
    `load_dataset` falls back to `"mnist_5k"`, the classifier is that one.

    The classifier never sees the validation or test images as training data,
    so a Frechet distance between those two splits is the floor that generated
    images are compared with (see `keras_ae.evaluate.protocols.sample_quality`).

    Args:
        dataset: A `keras_ae.data.load_dataset` name; None means
            `keras_ae.data.default_dataset()` (`"mnist_5k"` unless set).
        image_size: Optional int or `(height, width)` to resize the images to, as
            in `load_dataset` (use the size of the images you will classify).
        cache_dir: Folder of the cached models; default `~/.cache/keras_ae`.
        seed: Seed of the training run (only used when it trains).

    Returns:
        The classifier, a `keras.Model` mapping images to class probabilities.

    Example:
        >>> # Not run as a doctest: it trains 45 epochs unless the cache holds it.
        >>> classifier = get_classifier("mnist_5k")  # doctest: +SKIP
        keras_ae.evaluate.classifier: mnist_5k 28x28 classifier, test accuracy
        0.98... (loaded from .../classifier_mnist_5k_28x28_seed0_v3.keras)
    """
    dataset = default_dataset() if dataset is None else dataset
    _, _, (x_test, y_test), info = load_dataset(dataset, image_size=image_size)
    path = _cache_path(cache_dir, info.name, info.image_shape, seed)
    origin = f"loaded from {path}"
    if not path.exists():
        # Trained in a fresh Python process: seeding and training there leave
        # this process's random generators as they were, so a notebook's
        # numbers do not depend on whether the classifier was cached.
        _train_in_fresh_process(dataset, image_size, seed, path)
        origin = f"trained, saved to {path}"
    model = keras.saving.load_model(path, safe_mode=True)
    test_accuracy = accuracy(model, x_test, y_test)
    height, width = info.image_shape[:2]
    print(
        f"keras_ae.evaluate.classifier: {info.name} {height}x{width} classifier, "
        f"test accuracy {test_accuracy:.3f} ({origin})"
    )
    return model


def _train_and_save(dataset, image_size, seed, path):
    """Trains the course's classifier on `dataset`'s training split; saves it."""
    (x_train, y_train), (x_val, y_val), _, _ = load_dataset(
        dataset, image_size=image_size
    )
    model, _ = train_classifier(x_train, y_train, x_val, y_val, seed=seed)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Save under a temporary name, then rename: another process never sees a
    # half-written file.
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}.keras")
    model.save(partial)
    os.replace(partial, path)


def _train_in_fresh_process(dataset, image_size, seed, path):
    import json
    import subprocess
    import sys

    arguments = json.dumps([dataset, image_size, seed, str(path)])
    code = (
        "import json, sys; from keras_ae.evaluate.classifier import _train_and_save; "
        "_train_and_save(*json.loads(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, arguments], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"Training the classifier for {dataset!r} failed in a child process "
            f"(exit status {done.returncode}):\n{done.stderr[-3000:]}"
        )


def features(model, x, batch_size=256):
    """Returns the penultimate-layer activations of `model` for `x` (NumPy).

    For `build_classifier` models that is the `"features"` layer; for other
    models, the output of the second-to-last layer. Use them to compare real and
    generated images, for example with a Frechet distance.
    """
    try:
        layer = model.get_layer(FEATURES_LAYER)
    except ValueError:
        layer = model.layers[-2]
    extractor = keras.Model(model.inputs, layer.output)
    return extractor.predict(x, batch_size=batch_size, verbose=0)


def class_histogram(model, x, batch_size=256):
    """Fraction of `x` predicted as each class: a NumPy array that sums to 1.

    A generative model that covers all classes gives roughly the data's class
    frequencies; one that collapses onto a few classes shows near-zero bins.
    """
    probabilities = model.predict(x, batch_size=batch_size, verbose=0)
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    return counts / len(probabilities)
