"""Tests for keras_ae.evaluate.classifier: accuracy, determinism, caching, features."""

import random

import numpy as np
import pytest
from tensorflow.python.framework import config as tf_config

from keras_ae.data import load_dataset
from keras_ae.evaluate import classifier


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    (x_train, y_train), (x_val, y_val), (x_test, y_test), _ = digits
    model, _ = classifier.train_classifier(x_train, y_train, x_val, y_val, seed=0)
    return model, classifier.accuracy(model, x_test, y_test)


def test_accuracy_on_the_digits_test_set(trained, digits):
    model, test_accuracy = trained
    _, _, (x_test, y_test), _ = digits
    print(f"digits classifier: test accuracy {test_accuracy:.4f}")
    assert test_accuracy >= 0.95
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    assert test_accuracy == np.mean(predicted == y_test)
    # The returned model is the classifier alone, without augmentation layers.
    assert not any("random" in layer.name for layer in model.layers)


def test_returns_the_validation_accuracy_of_the_model_it_returns(digits):
    (x_train, y_train), (x_val, y_val), _, _ = digits
    model, val_accuracy = classifier.train_classifier(
        x_train[:300], y_train[:300], x_val, y_val, seed=0, epochs=6
    )
    predicted = model.predict(x_val, verbose=0).argmax(axis=1)
    assert val_accuracy == np.mean(predicted == y_val)


def test_course_classifier_on_mnist_5k_reaches_98_percent():
    # The classifier that judges generated digits in notebooks 06-08: trained on
    # the training split only; the test split is never seen in training.
    model = classifier.get_classifier("mnist_5k")
    _, _, (x_test, y_test), _ = load_dataset("mnist_5k")
    test_accuracy = classifier.accuracy(model, x_test, y_test)
    print(f"mnist_5k classifier: test accuracy {test_accuracy:.4f}")
    assert test_accuracy >= 0.98


def test_same_seed_gives_identical_weights(digits):
    (x_train, y_train), _, (x_test, y_test), _ = digits

    def train(seed):
        return classifier.train_classifier(
            x_train, y_train, x_test, y_test, seed=seed, epochs=2
        )  # any labelled images serve as the validation split here

    (first, first_accuracy), (second, second_accuracy) = train(0), train(0)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first_accuracy == second_accuracy
    other, _ = train(1)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    # The process-wide switch is off again once training is over.
    assert not tf_config.is_op_determinism_enabled()


def test_get_classifier_trains_once_then_loads(
    trained, digits, tmp_path, monkeypatch, capsys
):
    model, test_accuracy = trained
    _, _, (x_test, _), _ = digits
    calls = []

    def fake_train(dataset, image_size, seed, path):
        calls.append((dataset, image_size, seed))
        model.save(path)

    monkeypatch.setattr(classifier, "_train_in_fresh_process", fake_train)
    first = classifier.get_classifier("digits", cache_dir=tmp_path, seed=3)
    path = tmp_path / f"classifier_digits_8x8_seed3_{classifier.RECIPE_VERSION}.keras"
    assert calls == [("digits", None, 3)]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    np.testing.assert_array_equal(
        first.predict(x_test, verbose=0), model.predict(x_test, verbose=0)
    )
    line = capsys.readouterr().out.strip()
    assert line == (
        "keras_ae.evaluate.classifier: digits 8x8 classifier, test accuracy "
        f"{test_accuracy:.3f} (trained, saved to {path})"
    )

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier must be loaded, not trained")

    monkeypatch.setattr(classifier, "_train_in_fresh_process", no_training)
    loaded = classifier.get_classifier("digits", cache_dir=tmp_path, seed=3)
    np.testing.assert_array_equal(
        loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0)
    )
    assert capsys.readouterr().out.strip() == (
        "keras_ae.evaluate.classifier: digits 8x8 classifier, test accuracy "
        f"{test_accuracy:.3f} (loaded from {path})"
    )


def test_a_cache_miss_leaves_the_random_generators_as_a_hit_does(tmp_path):
    import keras

    from keras_ae.utils import set_seed

    def draws():
        return (
            random.random(),
            np.random.rand(),
            float(keras.random.uniform(())),
            float(keras.ops.convert_to_numpy(keras.random.normal((1,)))[0]),
        )

    # Loading a model draws from the global generators (its layers are built
    # with fresh weights before the saved ones are set), so the claim is: a
    # cache miss, which trains, leaves them as a cache hit, which only loads.
    set_seed(7)
    classifier.get_classifier("digits", cache_dir=tmp_path)  # trains: a miss
    after_miss = draws()
    assert list(tmp_path.glob("*.keras"))
    set_seed(7)
    classifier.get_classifier("digits", cache_dir=tmp_path)  # loads: a hit
    assert draws() == after_miss


def test_a_failed_training_run_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_AE_DATASET", "no_such_set")
    with pytest.raises(RuntimeError, match="(?s)exit status 1.*no_such_set"):
        classifier._train_in_fresh_process(None, None, 0, tmp_path / "c.keras")


def test_features_are_the_penultimate_activations(trained, digits):
    model, _ = trained
    _, _, (x_test, _), _ = digits
    x = x_test[:64]
    feats = classifier.features(model, x)
    assert feats.shape == (64, 128) and feats.min() >= 0  # ReLU units
    # The last layer applied to the features by hand gives the model's output.
    kernel, bias = model.get_layer("probabilities").get_weights()
    logits = feats.astype("float64") @ kernel + bias
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        probabilities, model.predict(x, verbose=0), rtol=1e-4, atol=1e-6
    )


def test_class_histogram(trained, digits):
    model, test_accuracy = trained
    _, _, (x_test, y_test), _ = digits
    histogram = classifier.class_histogram(model, x_test)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(histogram.sum(), 1.0)
    np.testing.assert_array_equal(
        histogram, np.bincount(predicted, minlength=10) / len(x_test)
    )
    # With few errors it is close to the true class frequencies (stratified: ~0.1).
    true_frequencies = np.bincount(y_test, minlength=10) / len(y_test)
    assert np.abs(histogram - true_frequencies).sum() <= 2 * (1 - test_accuracy)
    # A set of one class only: all the mass in that bin.
    sevens = classifier.class_histogram(model, x_test[y_test == 7])
    assert sevens.argmax() == 7 and sevens[7] >= 0.9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"input_shape": (8, 8)},
            "Expected input_shape to be (height, width, channels) of positive "
            "integers. Received: input_shape=(8, 8)",
        ),
        ({"num_classes": 1}, "Expected num_classes >= 2. Received: num_classes=1"),
    ],
)
def test_build_classifier_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as error:
        classifier.build_classifier(**kwargs)
    assert message in str(error.value)


def test_train_classifier_rejects_mismatched_labels():
    x = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="Expected as many labels as images"):
        classifier.train_classifier(x, np.zeros(3, int), x, np.zeros(4, int))
