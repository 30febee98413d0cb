"""Tests for keras_ae.train.recipes against NumPy, scikit-learn and closed forms."""

import math

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keras_ae  # noqa: F401  (selects the TensorFlow backend)
from keras_ae import data
from keras_ae.evaluate import analysis, metrics
from keras_ae.models import autoencoders as ae
from keras_ae.train import recipes
from keras_ae.utils import set_seed

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), _, (x_test, y_test), _ = data.load_dataset("digits")
    return x_train, y_train, x_test, y_test


def identity_model(shape):
    inputs = keras.Input(shape=shape)
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def zero_model(shape):
    inputs = keras.Input(shape=shape)
    outputs = keras.layers.Dense(
        shape[-1], kernel_initializer="zeros", bias_initializer="zeros"
    )(inputs)
    return keras.Model(inputs, outputs)


def numpy_mse(model, x):
    return np.mean((model.predict(x, verbose=0).astype("float64") - x) ** 2)


# --------------------------------------------------------------------------
# reconstruction_mse


def test_reconstruction_mse_closed_forms():
    x = np.random.default_rng(0).uniform(size=(20, 4, 4, 1)).astype("float32")
    assert metrics.reconstruction_mse(identity_model((4, 4, 1)), x) == 0.0
    # A model that outputs zeros has error E[x^2], overall and per pixel.
    zeros = zero_model((4, 4, 1))
    x64 = x.astype("float64")
    assert metrics.reconstruction_mse(zeros, x) == pytest.approx(
        np.mean(x64**2), rel=1e-6
    )
    # Batches of 7 split the 20 images unevenly; the result must not change.
    error_map = metrics.reconstruction_mse(zeros, x, per_pixel=True, batch_size=7)
    assert error_map.shape == (4, 4, 1)
    np.testing.assert_allclose(error_map, np.mean(x64**2, axis=0), rtol=1e-6)


def test_reconstruction_mse_rejects_a_model_of_another_shape():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="output has the shape of its input"):
        metrics.reconstruction_mse(model, np.zeros((2, 4)))


# --------------------------------------------------------------------------
# fit_full_batch


def test_fit_full_batch_takes_adam_steps_on_the_full_batch_gradient(digits):
    x_train = digits[0]
    set_seed(0)
    model = ae.build_linear_autoencoder((8, 8, 1), code_size=4)
    kernel = model.get_layer("encoder").get_layer("code").kernel
    initial_mse = numpy_mse(model, x_train)
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(x_train, model(x_train))
    gradient = tape.gradient(loss, kernel).numpy().astype("float64")
    kernel_before = kernel.numpy()
    learning_rate = 0.01

    history = recipes.fit_full_batch(
        model, x_train, steps=1, learning_rate=learning_rate, log_every=1
    )

    # The one logged loss is the MSE of the untrained model on all of x_train
    # (a mini-batch would give another number).
    assert history.history["loss"][0] == pytest.approx(initial_mse, rel=1e-4)
    # Adam's first step, closed form: -lr * g / (|g| + epsilon / sqrt(1 - beta_2)),
    # with g the gradient over the whole batch.
    optimizer = model.optimizer
    expected = (
        -learning_rate
        * gradient
        / (np.abs(gradient) + optimizer.epsilon / math.sqrt(1 - optimizer.beta_2))
    )
    np.testing.assert_allclose(kernel.numpy() - kernel_before, expected, atol=2e-6)
    assert np.abs(expected).max() > 0.009


@pytest.mark.slow
def test_fit_full_batch_trains_a_linear_autoencoder_to_pca(digits):
    x_train, _, x_test, _ = digits
    code_size = 8
    pca = PCA(n_components=code_size).fit(x_train.reshape(len(x_train), -1))
    flat_test = x_test.reshape(len(x_test), -1).astype("float64")
    pca_mse = np.mean(
        (pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2
    )
    set_seed(0)
    model = ae.build_linear_autoencoder((8, 8, 1), code_size=code_size)

    history = recipes.fit_full_batch(model, x_train, steps=3000, log_every=500)

    assert len(history.history["loss"]) == 6
    assert model.optimizer.iterations.numpy() == 3000
    # The cosine schedule has decayed to 0 at the last step.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0, abs=1e-9)
    test_mse = metrics.reconstruction_mse(model, x_test)
    kernel = model.get_layer("decoder").get_layer("pixels").kernel.numpy()
    angles = metrics.principal_angles(kernel.T, pca.components_.T)
    # Measured: ratio 1.0000, largest angle under 0.05 degrees.
    assert test_mse / pca_mse == pytest.approx(1.0, abs=2e-3)
    assert angles.max() < 0.5, angles


# --------------------------------------------------------------------------
# fit_autoencoder


def test_fit_autoencoder_schedule_steps_and_validation_loss(digits):
    x_train, _, x_test, _ = digits
    x_train = x_train[:300]
    num_epochs, batch_size = 3, 64
    set_seed(0)
    model = ae.build_dense_autoencoder((8, 8, 1), code_size=4, hidden_units=(16,))

    history = recipes.fit_autoencoder(
        model,
        x_train,
        num_epochs=num_epochs,
        batch_size=batch_size,
        learning_rate=0.01,
        validation_data=x_test,
    )

    assert model.optimizer.iterations.numpy() == num_epochs * math.ceil(300 / 64)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0, abs=1e-9)
    assert len(history.history["loss"]) == num_epochs
    # The last val_loss is the MSE of the trained model on the validation data.
    assert history.history["val_loss"][-1] == pytest.approx(
        numpy_mse(model, x_test), rel=1e-4
    )


def test_fit_autoencoder_is_repeatable_and_seeded(digits):
    x_train = digits[0][:256]

    def train(seed):
        set_seed(0)
        model = ae.build_linear_autoencoder((8, 8, 1), code_size=3)
        recipes.fit_autoencoder(
            model, x_train, num_epochs=2, batch_size=32, learning_rate=0.01, seed=seed
        )
        return model.get_layer("decoder").get_layer("pixels").kernel.numpy()

    first, again, other = train(seed=0), train(seed=0), train(seed=1)
    np.testing.assert_array_equal(first, again)
    # Another shuffling seed visits the batches in another order.
    assert np.abs(first - other).max() > 1e-4


# --------------------------------------------------------------------------
# shift_images and fit_autoencoder(shift_pixels=...)


def numpy_shift(image, dy, dx):
    """Reference: `image` moved down by dy and right by dx, zeros shifted in."""
    height, width = image.shape[:2]
    shifted = np.zeros_like(image)
    shifted[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = image[
        max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
    ]
    return shifted


def shifts_of(originals, shifted, max_shift):
    """The (dy, dx) that turns each original into its shifted image, by search."""
    candidates = [
        (dy, dx)
        for dy in range(-max_shift, max_shift + 1)
        for dx in range(-max_shift, max_shift + 1)
    ]
    found = []
    for original, image in zip(originals, shifted, strict=True):
        matches = [
            shift
            for shift in candidates
            if np.array_equal(numpy_shift(original, *shift), image)
        ]
        assert len(matches) == 1, matches  # exactly one whole-pixel shift
        found.append(matches[0])
    return found


def test_shift_images_moves_each_image_by_its_own_whole_pixel_shift():
    # Strictly positive pixels: a shift is visible at every border.
    images = np.random.default_rng(0).uniform(0.1, 1, size=(300, 6, 7, 2))
    images = images.astype("float32")
    shifted = recipes.shift_images(images, 2, seed=(3, 4)).numpy()

    assert shifted.shape == images.shape and shifted.dtype == np.float32
    shifts = shifts_of(images, shifted, max_shift=2)
    # Every one of the 5 x 5 shifts is drawn, about equally often (12 expected).
    counts = np.unique(np.array(shifts), axis=0, return_counts=True)[1]
    assert len(counts) == 25 and counts.min() >= 3
    # Stateless: the same seed gives the same shifts, another seed others.
    np.testing.assert_array_equal(
        recipes.shift_images(images, 2, seed=(3, 4)).numpy(), shifted
    )
    other = recipes.shift_images(images, 2, seed=(3, 5)).numpy()
    assert shifts_of(images, other, max_shift=2) != shifts
    np.testing.assert_array_equal(recipes.shift_images(images, 0, (0, 0)), images)
    with pytest.raises(ValueError, match="0 <= max_shift < 6"):
        recipes.shift_images(images, 6, seed=(0, 0))
    with pytest.raises(ValueError, match="height, width, channels"):
        recipes.shift_images(images[..., 0], 1, seed=(0, 0))


def test_training_batches_shift_afresh_each_epoch_and_repeat_with_the_seed(digits):
    # No blank border: every shift changes the image, so it can be read back.
    x_train = digits[0][:60] + 0.01

    def epochs(seed, count=2):
        batches = recipes._training_batches(x_train, 32, 1, seed)
        return [[(x.numpy(), y.numpy()) for x, y in batches] for _ in range(count)]

    def source_of(image):
        """The training image that `image` is a shift (by <= 1 pixel) of."""
        return next(
            i
            for i, original in enumerate(x_train)
            if any(
                np.array_equal(numpy_shift(original, dy, dx), image)
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
            )
        )

    first = epochs(seed=0)
    shifts_per_epoch = []
    for epoch in first:
        inputs = np.concatenate([x for x, _ in epoch])
        np.testing.assert_array_equal(inputs, np.concatenate([y for _, y in epoch]))
        order = [source_of(image) for image in inputs]
        assert sorted(order) == list(range(len(x_train)))  # each image once
        shifts_per_epoch.append(shifts_of(x_train[order], inputs, max_shift=1))
    # Other shifts in the second epoch; the same ones when rebuilt with the seed.
    assert shifts_per_epoch[0] != shifts_per_epoch[1]
    for epoch, repeated in zip(first, epochs(seed=0), strict=True):
        for (x, _), (x_again, _) in zip(epoch, repeated, strict=True):
            np.testing.assert_array_equal(x, x_again)


def test_fit_autoencoder_with_shifts_is_repeatable_and_trains_on_other_images(digits):
    x_train = digits[0][:256]

    def train(shift_pixels):
        set_seed(0)
        model = ae.build_linear_autoencoder((8, 8, 1), code_size=3)
        recipes.fit_autoencoder(
            model, x_train, num_epochs=2, batch_size=32, shift_pixels=shift_pixels
        )
        return model.get_layer("decoder").get_layer("pixels").kernel.numpy()

    shifted = train(1)
    np.testing.assert_array_equal(train(1), shifted)
    assert np.abs(train(0) - shifted).max() > 1e-4
    with pytest.raises(ValueError, match="shift_pixels to be an integer >= 0"):
        recipes.fit_autoencoder(None, x_train, shift_pixels=-1)
    with pytest.raises(ValueError, match="larger than shift_pixels"):
        recipes.fit_autoencoder(None, x_train, shift_pixels=8)


# --------------------------------------------------------------------------
# code_size_sweep


def test_code_size_sweep_against_pca(digits):
    x_train, _, x_test, _ = digits
    code_sizes = (2, 5)
    built = []

    def build(code_size):
        built.append(code_size)
        return ae.build_linear_autoencoder((8, 8, 1), code_size=code_size)

    sweep = recipes.code_size_sweep(
        build, x_train, x_test, code_sizes, num_epochs=20, learning_rate=0.01
    )

    assert built == [2, 5]
    assert sweep["code_sizes"] == [2, 5]
    flat_train = x_train.reshape(len(x_train), -1).astype("float64")
    flat_test = x_test.reshape(len(x_test), -1).astype("float64")
    for k, model, train_mse, test_mse, pca_mse in zip(
        code_sizes,
        sweep["models"],
        sweep["train_mse"],
        sweep["test_mse"],
        sweep["pca_mse"],
        strict=True,
    ):
        assert model.get_layer("encoder").output_shape == (None, k)
        assert test_mse == pytest.approx(numpy_mse(model, x_test), rel=1e-5)
        pca = PCA(n_components=k).fit(flat_train)
        reference = pca.inverse_transform(pca.transform(flat_test))
        assert pca_mse == pytest.approx(np.mean((reference - flat_test) ** 2), rel=1e-6)
        # PCA is the best rank-k affine reconstruction of the training data: no
        # linear autoencoder can beat it there.
        pca_train = pca.inverse_transform(pca.transform(flat_train))
        assert train_mse >= np.mean((pca_train - flat_train) ** 2) * (1 - 1e-5)
    assert sweep["test_mse"][1] < sweep["test_mse"][0]
    assert all(seconds > 0 for seconds in sweep["seconds"])


def test_code_size_sweep_without_pca_and_bad_arguments(digits):
    x_train, _, x_test, _ = digits
    sweep = recipes.code_size_sweep(
        lambda k: ae.build_linear_autoencoder((8, 8, 1), code_size=k),
        x_train[:64],
        x_test[:16],
        [3],
        num_epochs=1,
        with_pca=False,
    )
    assert "pca_mse" not in sweep
    with pytest.raises(ValueError, match="Expected at least one code size"):
        recipes.code_size_sweep(lambda k: None, x_train, x_test, [])
    with pytest.raises(ValueError, match="Expected code_size > 0"):
        recipes.code_size_sweep(lambda k: None, x_train, x_test, [4, 0])
    with pytest.raises(ValueError, match="sequence of positive integers"):
        recipes.code_size_sweep(lambda k: None, x_train, x_test, 8)


# --------------------------------------------------------------------------
# plot_mse_vs_code_size and linear_probe_accuracy


def test_plot_mse_vs_code_size_draws_the_given_numbers():
    code_sizes = [2, 4, 8]
    curves = {"PCA": [0.05, 0.04, 0.02], "dense AE": [0.04, 0.02, 0.01]}
    fig = recipes.plot_mse_vs_code_size(code_sizes, curves)
    axis = fig.axes[0]
    lines = axis.get_lines()
    assert [line.get_label() for line in lines] == ["PCA", "dense AE"]
    for line, values in zip(lines, curves.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), code_sizes)
        np.testing.assert_array_equal(line.get_ydata(), values)
    assert axis.get_yscale() == "log"
    with pytest.raises(ValueError, match="one value per code size"):
        recipes.plot_mse_vs_code_size(code_sizes, {"PCA": [0.1, 0.2]})


def test_linear_probe_accuracy_matches_scikit_learn(digits):
    x_train, y_train, x_test, y_test = digits
    accuracy = analysis.linear_probe_accuracy(x_train, y_train, x_test, y_test)
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    reference.fit(x_train.reshape(len(x_train), -1), y_train)
    assert accuracy == reference.score(x_test.reshape(len(x_test), -1), y_test)
    assert accuracy > 0.9
    # Separable classes are classified perfectly; labels unrelated to the
    # features about as often as chance (1 in 10).
    rng = np.random.default_rng(0)
    labels = rng.integers(10, size=2000)
    features = np.eye(10)[labels] + 0.01 * rng.normal(size=(2000, 10))
    assert analysis.linear_probe_accuracy(
        features[:1000], labels[:1000], features[1000:], labels[1000:]
    ) == pytest.approx(1.0)
    noise = rng.normal(size=(2000, 10))
    chance = analysis.linear_probe_accuracy(
        noise[:1000], labels[:1000], noise[1000:], labels[1000:]
    )
    assert chance < 0.2
    with pytest.raises(ValueError, match="as many labels as feature rows"):
        analysis.linear_probe_accuracy(features, labels[:5], features, labels)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: recipes.fit_full_batch(None, x, steps=0), "steps > 0"),
        (
            lambda x: recipes.fit_full_batch(None, x, steps=150, log_every=100),
            "multiple of log_every",
        ),
        (lambda x: recipes.fit_autoencoder(None, x, num_epochs=0), "num_epochs"),
        (
            lambda x: recipes.fit_autoencoder(None, x, learning_rate=-1.0),
            "learning_rate > 0",
        ),
        (lambda x: recipes.fit_autoencoder(None, x[:0]), "non-empty batch"),
    ],
)
def test_bad_arguments_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.zeros((4, 8, 8, 1), "float32"))


def test_shuffled_batches_cover_every_row_once_per_epoch_in_a_new_order():
    from keras_ae.train.recipes import shuffled_batches

    x = np.arange(10, dtype="int64")
    dataset = shuffled_batches((x, 100 + x), batch_size=4, seed=3)
    epochs = []
    for _ in range(3):
        batches = [(a.numpy(), b.numpy()) for a, b in dataset]
        assert [len(a) for a, _ in batches] == [4, 4, 2]
        rows = np.concatenate([a for a, _ in batches])
        np.testing.assert_array_equal(
            np.concatenate([b for _, b in batches]), 100 + rows
        )
        np.testing.assert_array_equal(np.sort(rows), x)  # each row exactly once
        epochs.append(rows)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled each epoch
    again = np.concatenate([a.numpy() for a, _ in shuffled_batches((x, x), 4, seed=3)])
    np.testing.assert_array_equal(again, epochs[0])  # the same seed, the same order


def test_cosine_adam_follows_the_cosine_to_zero():
    from keras_ae.train.recipes import cosine_adam

    optimizer = cosine_adam(0.01, decay_steps=100)
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else None
    schedule = optimizer._learning_rate if schedule is None else schedule
    for step in (0, 25, 50, 100):
        expected = 0.01 * 0.5 * (1 + np.cos(np.pi * step / 100))
        np.testing.assert_allclose(
            float(schedule(step)), expected, rtol=1e-5, atol=1e-9
        )
