"""Labelled subsets and encoder classifiers, checked against NumPy and sklearn."""

import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from keras_ae.train.pretraining import labelled_subset, train_encoder_classifier


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.37, 1.0])
def test_subset_is_stratified_and_the_right_size(fraction):
    labels = np.repeat(np.arange(10), 350)
    kept = labelled_subset(labels, fraction, seed=1)
    assert kept.size == round(fraction * 3500)
    assert np.unique(kept).size == kept.size
    counts = np.bincount(labels[kept], minlength=10)
    assert np.abs(counts - fraction * 350).max() <= 1


def test_subset_keeps_every_class_and_repeats_with_its_seed():
    labels = np.repeat(np.arange(10), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    kept = labelled_subset(labels, 0.001, seed=0)
    assert np.array_equal(np.unique(labels[kept]), np.arange(10))
    np.testing.assert_array_equal(kept, labelled_subset(labels, 0.001, seed=0))
    half = labelled_subset(labels, 0.5, seed=0)
    counts = np.bincount(labels[half], minlength=10)
    np.testing.assert_allclose(counts, np.bincount(labels) / 2, atol=1)


def test_subset_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="fraction"):
        labelled_subset(np.arange(5), 0.0)


def test_classifier_matches_logistic_regression_and_leaves_encoder_alone():
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, size=600)
    x = (centres[y] + rng.normal(size=(600, 2))).astype("float32")
    identity = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(2, use_bias=False)]
    )
    identity.layers[0].kernel.assign(np.eye(2, dtype="float32"))
    result = train_encoder_classifier(
        identity, x[:300], y[:300], x[300:450], y[300:450],
        num_classes=3, max_epochs=60, patience=15, learning_rate=0.05,
    )  # fmt: skip
    np.testing.assert_array_equal(identity.layers[0].kernel, np.eye(2))
    predicted = result["classifier"].predict(x[450:], verbose=0).argmax(axis=1)
    reference = LogisticRegression().fit(x[:300], y[:300]).score(x[450:], y[450:])
    assert abs(np.mean(predicted == y[450:]) - reference) <= 0.04
    val = result["classifier"].predict(x[300:450], verbose=0).argmax(axis=1)
    assert np.mean(val == y[300:450]) == pytest.approx(result["val_accuracy"])


def test_few_labels_are_repeated_and_codes_standardized():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = np.arange(10) % 2
    scale = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    scale.layers[0].kernel.assign(5.0 * rng.normal(size=(3, 2)).astype("float32"))
    result = train_encoder_classifier(
        scale, x, y, x, y, num_classes=2, max_epochs=1, batch_size=32,
        min_epoch_size=64,
    )  # fmt: skip
    classifier = result["classifier"]
    # 10 examples repeated 7 times (70 >= 64) in batches of 32: 3 steps.
    assert int(classifier.optimizer.iterations) == 3
    # The standardized training codes have mean 0 and variance 1 (NumPy).
    codes = x @ scale.layers[0].kernel.numpy() + scale.layers[0].bias.numpy()
    standardize = classifier.get_layer("standardize")
    np.testing.assert_allclose(
        standardize(codes), (codes - codes.mean(0)) / codes.std(0), atol=1e-4
    )
    plain = train_encoder_classifier(
        scale, x, y, x, y, num_classes=2, max_epochs=1, batch_size=32,
        min_epoch_size=1, standardize_codes=False,
    )["classifier"]  # fmt: skip
    assert int(plain.optimizer.iterations) == 1
    assert "standardize" not in [layer.name for layer in plain.layers]
    with pytest.raises(ValueError, match="one label per training input"):
        train_encoder_classifier(scale, x, y[:5], x, y, num_classes=2, max_epochs=1)
