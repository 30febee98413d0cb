"""Classifiers from a (pretrained or fresh) encoder with a fraction of the labels.

Self-supervised pretraining pays off when labels are scarce: an encoder trained
as part of an autoencoder on all the images, then topped with a softmax layer
and fine-tuned on the few labelled ones, against the same network trained from
scratch on the same labels (Hands-On ML, ch. 17, "Unsupervised pretraining").
"""

import keras
import numpy as np

from keras_ae._validation import check_batch, check_positive_int

__all__ = ["labelled_subset", "train_encoder_classifier"]


def labelled_subset(labels, fraction, seed=0):
    """Indices of a stratified random `fraction` of `labels` (every class kept).

    Args:
        labels: Integer class labels `(N,)`.
        fraction: Share of the examples to keep, in (0, 1]; at least one per
            class is kept.
        seed: Seed of the draw.

    Returns:
        Sorted integer indices into `labels`, `max(round(fraction * N),
        number of classes)` of them (all of them for `fraction=1`), with the
        class proportions of `labels` up to rounding.

    Example:

    >>> labelled_subset(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.5).size
    4
    """
    labels = np.asarray(labels)
    if not 0 < fraction <= 1:
        raise ValueError(
            f"Expected fraction in (0, 1]. Received: fraction={fraction!r}"
        )
    classes, counts = np.unique(labels, return_counts=True)
    size = max(round(fraction * len(labels)), len(classes))
    if size >= len(labels):
        return np.arange(len(labels))
    # Largest-remainder quotas, at least one example per class.
    shares = size * counts / len(labels)
    quotas = np.clip(np.floor(shares).astype(int), 1, counts)
    order = np.argsort(-(shares - np.floor(shares)), kind="stable")
    for i in order:
        if quotas.sum() >= size:
            break
        if quotas[i] < counts[i]:
            quotas[i] += 1
    rng = np.random.default_rng(seed)
    kept = [
        rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
        for c, q in zip(classes, quotas, strict=True)
    ]
    return np.sort(np.concatenate(kept))


def train_encoder_classifier(
    encoder,
    x_train,
    y_train,
    x_val,
    y_val,
    *,
    num_classes=10,
    max_epochs=100,
    patience=10,
    batch_size=64,
    learning_rate=1e-3,
    min_epoch_size=1024,
    standardize_codes=True,
    seed=0,
):
    """Puts a softmax layer on a copy of `encoder` and trains it all on labels.

    The epoch is chosen on the validation split: training stops after
    `patience` epochs without a higher validation accuracy and the weights of
    the best epoch are kept. `encoder` itself is not changed: the classifier
    starts from a copy of its weights (pretrained or fresh).

    Two choices keep a pretrained and a fresh encoder on equal terms when the
    labels are few. An epoch shows the labelled examples repeated up to at
    least `min_epoch_size` (35 labelled digits in batches of 64 would otherwise
    give one step per epoch, and `max_epochs` would cap the training at a few
    dozen steps). And a `Normalization` layer, adapted to the codes of
    `x_train`, scales each code unit to mean 0 and variance 1 before the
    softmax layer: an autoencoder's codes have no fixed scale (a pretrained
    code unit can vary by several units where a fresh one varies by a
    fraction of one), and the softmax layer's fresh weights suit codes of
    unit scale.

    Args:
        encoder: A Keras model mapping inputs to codes `(batch, code_size)`.
        x_train: Labelled training inputs `(N, ...)`.
        y_train: Their integer labels `(N,)`.
        x_val: Validation inputs, which choose the epoch.
        y_val: Their labels.
        num_classes: Number of classes of the softmax layer.
        max_epochs: Most epochs to train.
        patience: Epochs without a better validation accuracy before stopping.
        batch_size: Inputs per training step.
        learning_rate: Step size of Adam.
        min_epoch_size: Fewest examples per epoch; fewer labelled examples are
            repeated (whole copies) up to at least this many. 1 repeats none.
        standardize_codes: Whether to standardize the codes before the
            softmax layer (a `Normalization` layer named `"standardize"`,
            fixed to the mean and variance of the codes of `x_train`, each
            variance at least 1e-6).
        seed: Seed of the softmax layer's initial weights and the shuffling.

    Returns:
        A dict: `"classifier"` (the trained model, best validation epoch),
        `"best_epoch"` (1-based) and `"val_accuracy"` (its validation accuracy).

    Example:

    >>> encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> x = np.eye(4, dtype="float32")
    >>> result = train_encoder_classifier(encoder, x, np.arange(4) % 2, x,
    ...                                   np.arange(4) % 2, num_classes=2,
    ...                                   max_epochs=2)
    >>> result["classifier"].output_shape, result["best_epoch"] in (1, 2)
    ((None, 2), True)
    """
    x_train = check_batch("x_train", x_train)
    x_val = check_batch("x_val", x_val)
    max_epochs = check_positive_int("max_epochs", max_epochs)
    min_epoch_size = check_positive_int("min_epoch_size", min_epoch_size)
    y_train = np.asarray(y_train)
    if len(y_train) != len(x_train):
        raise ValueError(
            "Expected one label per training input. Received: "
            f"{len(x_train)} inputs and {len(y_train)} labels"
        )
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    inputs = keras.Input(shape=encoder.input_shape[1:])
    codes = copy(inputs)
    if standardize_codes:
        train_codes = encoder.predict(x_train, batch_size=256, verbose=0)
        # A floor on the variance: a unit constant on the few labelled inputs
        # would otherwise be divided by ~0 and blow up on other inputs.
        standardize = keras.layers.Normalization(
            mean=train_codes.mean(axis=0),
            variance=np.maximum(train_codes.var(axis=0), 1e-6),
            name="standardize",
        )
        codes = standardize(codes)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classes")(
        codes
    )
    classifier = keras.Model(inputs, outputs, name="classifier")
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=patience,
        restore_best_weights=True,
    )
    copies = -(-min_epoch_size // len(x_train))  # ceiling division
    history = classifier.fit(
        np.concatenate([x_train] * copies),
        np.concatenate([y_train] * copies),
        validation_data=(x_val, np.asarray(y_val)),
        epochs=max_epochs,
        batch_size=batch_size,
        callbacks=[stop],
        verbose=0,
    )
    val_accuracy = history.history["val_accuracy"]
    best = int(np.argmax(val_accuracy))
    return {
        "classifier": classifier,
        "best_epoch": best + 1,
        "val_accuracy": float(val_accuracy[best]),
    }
