"""Tests for keras_ae.train.gan_recipes: recipes, repeatability, NaN detection."""

import keras
import numpy as np
import pytest

from keras_ae.data import load_dataset
from keras_ae.evaluate.classifier import features
from keras_ae.evaluate.metrics import frechet_distance
from keras_ae.evaluate.samples import (
    conditional_accuracy,
    generate_images,
    plot_class_histograms,
    sample_report,
)
from keras_ae.models.gan_builders import build_dense_discriminator
from keras_ae.models.gans import GAN, ConditionalGAN
from keras_ae.models.wgan import WGANGP
from keras_ae.train.gan_recipes import (
    GAN_KINDS,
    GAN_RECIPES,
    BatchHistory,
    build_gan,
    compile_gan,
    nonfinite_metrics,
    stability_rows,
    train_gan,
    train_gans,
)

NUM_CLASSES = 10


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), _, _, _ = load_dataset("digits")
    return x_train[:256], y_train[:256]


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_build_gan_gives_each_kind_its_networks():
    models = {kind: build_gan(kind) for kind in GAN_KINDS}  # 28x28 by default
    assert type(models["dense"]) is GAN
    assert type(models["dcgan"]) is GAN
    assert type(models["conditional"]) is ConditionalGAN
    assert type(models["wgan_gp"]) is WGANGP

    dense = models["dense"]
    units = [layer.units for layer in dense.generator.layers if hasattr(layer, "units")]
    assert units == [256, 512, 784]  # hidden layers, then the 28 * 28 pixels
    assert dense.label_smoothing == pytest.approx(0.1)
    assert "Conv2DTranspose" in _layer_types(models["dcgan"].generator)
    # The DCGAN starts from a 7x7 map and doubles it twice: 7 -> 14 -> 28.
    dcgan_maps = [
        tuple(layer.output.shape[1:3])
        for layer in models["dcgan"].generator.layers
        if type(layer).__name__ in ("Reshape", "Conv2DTranspose")
    ]
    assert dcgan_maps == [(7, 7), (14, 14), (28, 28)]
    assert "Conv2D" in _layer_types(models["dcgan"].discriminator)
    assert "Conv2DTranspose" not in _layer_types(dense.generator)
    slopes = [
        layer.negative_slope
        for layer in models["dcgan"].generator.layers
        if type(layer).__name__ == "LeakyReLU"
    ]
    assert slopes == pytest.approx([0.2] * 3)  # after the projection and 2 stages
    paper_generator = build_gan("dcgan", generator_negative_slope=0.0).generator
    assert _layer_types(paper_generator).count("ReLU") == 3

    conditional = models["conditional"]
    assert conditional.num_classes == NUM_CLASSES
    assert [tuple(t.shape) for t in conditional.discriminator.inputs] == [
        (None, 28, 28, 1),
        (None, NUM_CLASSES),
    ]
    wgan = models["wgan_gp"]
    assert (wgan.critic_steps, wgan.gp_weight) == (3, 10.0)
    assert "Dropout" not in _layer_types(wgan.discriminator)  # a fixed function
    assert "Dropout" in _layer_types(dense.discriminator)


def test_gan_recipes_build_and_compile_the_kind_they_name():
    for name, recipe in GAN_RECIPES.items():
        recipe = dict(recipe)
        kind = recipe.pop("kind")
        learning_rate = recipe.pop("learning_rate")
        d_learning_rate = recipe.pop("d_learning_rate", None)
        model = compile_gan(
            build_gan(kind, **recipe),
            learning_rate=learning_rate,
            d_learning_rate=d_learning_rate,
        )
        assert kind in GAN_KINDS, name
        assert model.generator.output_shape == (None, 28, 28, 1), name
        if recipe.get("conditioning") == "projection":
            assert model.discriminator.get_layer("label_embedding").units == 256
        assert float(model.g_optimizer.learning_rate) == pytest.approx(learning_rate)
        assert float(model.d_optimizer.learning_rate) == pytest.approx(
            d_learning_rate or learning_rate
        )


def test_compile_gan_sets_both_adam_optimizers():
    gan = compile_gan(build_gan("dense"), learning_rate=1e-3, d_learning_rate=4e-3)
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(4e-3)
    assert gan.g_optimizer.beta_1 == gan.d_optimizer.beta_1 == 0.5
    assert gan.d_optimizer.beta_2 == 0.999

    wgan = compile_gan(build_gan("wgan_gp"), learning_rate=1e-4)
    assert float(wgan.d_optimizer.learning_rate) == pytest.approx(1e-4)
    assert wgan.d_optimizer.beta_2 == wgan.g_optimizer.beta_2 == 0.9
    with pytest.raises(ValueError, match="Expected learning_rate > 0"):
        compile_gan(build_gan("dense"), learning_rate=0)


def test_same_seed_gives_the_same_run(digits):
    x_train, _ = digits

    def run(seed):
        return train_gan(
            "dense", x_train, num_epochs=2, batch_size=64, seed=seed, dense_units=(32,)
        )

    first, second, other = run(0), run(0), run(1)
    assert set(first.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(len(values) == 2 for values in first.history.values())
    assert first.history == second.history
    assert first.history["d_loss"] != other.history["d_loss"]
    assert first.finite and first.num_epochs == 2 and first.seconds > 0
    np.testing.assert_array_equal(
        first.model.generate(5, seed=3), second.model.generate(5, seed=3)
    )


def test_batch_history_recovers_each_batch_from_running_means():
    epochs = [[3.0, 1.0, 4.0, 1.0, 5.0], [9.0, 2.0]]
    recorder = BatchHistory()
    for epoch, values in enumerate(epochs):
        recorder.on_epoch_begin(epoch)
        for batch in range(len(values)):
            running_mean = np.mean(values[: batch + 1])
            recorder.on_train_batch_end(batch, {"loss": running_mean, "other": 1.0})
    np.testing.assert_allclose(recorder.history["loss"], sum(epochs, []), rtol=1e-12)
    assert recorder.epochs == [0] * 5 + [1] * 2
    assert recorder.steps == [1, 2, 3, 4, 5, 1, 2]
    assert recorder.history["other"] == [1.0] * 7

    # Logged every second step (steps_per_execution=2): the mean of each pair.
    chunked = BatchHistory(metrics="loss")
    chunked.on_epoch_begin(0)
    values = [3.0, 1.0, 4.0, 1.0]
    for batch in (1, 3):
        chunked.on_train_batch_end(batch, {"loss": np.mean(values[: batch + 1])})
    np.testing.assert_allclose(chunked.history["loss"], [2.0, 2.5])
    assert chunked.steps == [2, 4]
    assert list(chunked.history) == ["loss"]


def test_batch_history_weighs_the_short_last_batch_by_its_size():
    values, sizes = [3.0, 1.0, 4.0, 1.5], [32, 32, 32, 4]  # 100 images, batches of 32
    unweighted = BatchHistory()
    weighted = BatchHistory(batch_size=32, num_examples=100)
    for recorder in (unweighted, weighted):
        recorder.on_epoch_begin(0)
        for batch in range(4):
            running = np.average(values[: batch + 1], weights=sizes[: batch + 1])
            recorder.on_train_batch_end(batch, {"loss": running})
    np.testing.assert_allclose(weighted.history["loss"], values, rtol=1e-12)
    assert abs(unweighted.history["loss"][-1] - values[-1]) > 0.5  # the old error
    with pytest.raises(ValueError, match="both batch_size and num_examples"):
        BatchHistory(batch_size=32)
    too_few = BatchHistory(batch_size=32, num_examples=40)
    too_few.on_epoch_begin(0)
    too_few.on_train_batch_end(0, {"loss": 1.0})
    too_few.on_train_batch_end(1, {"loss": 1.0})
    with pytest.raises(ValueError, match="at most num_examples=40"):
        too_few.on_train_batch_end(2, {"loss": 1.0})


def test_batch_history_of_a_fit_with_a_short_last_batch():
    rng = np.random.default_rng(0)
    x = rng.random((100, 4), dtype="float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # no updates
    recorder = BatchHistory(["loss"], batch_size=32, num_examples=100)
    model.fit(x, x, batch_size=32, epochs=1, shuffle=False, callbacks=[recorder],
              verbose=0)  # fmt: skip
    # With a step size of 0 every batch's loss is the fixed model's MSE on it.
    out = model.predict(x, verbose=0)
    expected = [
        np.mean((out[i : i + 32] - x[i : i + 32]) ** 2) for i in (0, 32, 64, 96)
    ]
    np.testing.assert_allclose(recorder.history["loss"], expected, rtol=1e-4)


def test_batch_history_of_a_real_fit_averages_to_the_epoch_means(digits):
    x_train, _ = digits
    recorder = BatchHistory(["d_loss", "g_loss", "d_real"])
    run = train_gan(
        "dense",
        x_train,
        num_epochs=2,
        dense_units=(16,),
        callbacks=[recorder],
        steps_per_execution=1,
    )
    batches_per_epoch = 256 // 64
    assert recorder.epochs == [0] * batches_per_epoch + [1] * batches_per_epoch
    for name in ("d_loss", "g_loss", "d_real"):
        values = np.reshape(recorder.history[name], (2, batches_per_epoch))
        np.testing.assert_allclose(values.mean(axis=1), run.history[name], rtol=1e-5)
    assert "d_fake" not in recorder.history


def test_one_call_per_epoch_trains_the_same_steps(digits):
    x_train, _ = digits
    runs = {}
    for steps in (None, 1):
        recorder = BatchHistory(["d_loss"])
        runs[steps] = train_gan(
            "dense",
            x_train,
            num_epochs=2,
            dense_units=(16,),
            callbacks=[recorder],
            steps_per_execution=steps,
        )
        runs[steps].recorder = recorder
    assert runs[None].model.steps_per_execution == 256 // 64
    assert runs[None].recorder.steps == [4, 4]  # one log per epoch
    for name, values in runs[1].history.items():
        np.testing.assert_allclose(runs[None].history[name], values, rtol=1e-5)
    with pytest.raises(ValueError, match="steps_per_execution"):
        train_gan("dense", x_train, num_epochs=1, steps_per_execution=0)


def test_nan_in_the_data_shows_as_nonfinite_losses(digits):
    x_train, _ = digits
    x_bad = x_train.copy()
    x_bad[5, 3, 3, 0] = np.nan
    run = train_gan("dense", x_bad, num_epochs=1, dense_units=(16,))
    assert not run.finite
    assert "d_loss" in nonfinite_metrics(run.history)
    assert nonfinite_metrics({"a": [1.0, 2.0], "b": [1.0, np.inf]}) == ["b"]
    assert nonfinite_metrics({"a": [0.5]}) == []


def test_train_gans_trains_every_kind_and_seed_with_a_reduced_budget(digits):
    x_train, y_train = digits
    recipes = {
        "conditional": {"num_epochs": 3, "dense_units": (16,)},
        "wgan_gp": {"num_epochs": 4, "critic_steps": 1, "dense_units": (16,)},
    }
    runs = train_gans(
        recipes, x_train, y_train, seeds=(0, 1), epoch_fraction=0.5, keep_models=False
    )
    assert [(r.kind, r.seed, r.num_epochs) for r in runs] == [
        ("conditional", 0, 2),  # ceil(0.5 * 3)
        ("conditional", 1, 2),
        ("wgan_gp", 0, 2),
        ("wgan_gp", 1, 2),
    ]
    assert all(run.model is None for run in runs)
    assert set(runs[2].history) == {
        "critic_loss",
        "g_loss",
        "gradient_penalty",
        "wasserstein_estimate",
    }
    rows = stability_rows(runs)
    assert [row["finite"] for row in rows] == [True] * 4
    assert rows[0]["nonfinite"] == ""
    last_d_loss = runs[0].history["d_loss"][-1]
    assert f"d_loss {last_d_loss:.3g}" in rows[0]["last"]
    with pytest.raises(ValueError, match="Expected kind to be one of"):
        train_gans({"vae": {}}, x_train)


def _label_writing_cgan(num_classes=NUM_CLASSES, latent_dim=2):
    """A ConditionalGAN whose generator writes the one-hot label as its image."""
    latent = keras.Input((latent_dim,), name="latent")
    labels = keras.Input((num_classes,), name="labels")
    joined = keras.layers.Concatenate()([latent, labels])
    pixels = keras.layers.Dense(num_classes, use_bias=False, name="write")(joined)
    images = keras.layers.Reshape((1, num_classes, 1))(pixels)
    generator = keras.Model([latent, labels], images)
    kernel = np.concatenate([np.zeros((latent_dim, num_classes)), np.eye(num_classes)])
    generator.get_layer("write").set_weights([kernel.astype("float32")])
    discriminator = build_dense_discriminator(
        (1, num_classes, 1), hidden_units=(4,), num_classes=num_classes
    )
    return ConditionalGAN(generator, discriminator, seed=0)


def _permuting_classifier(permutation):
    """Predicts class permutation[i] for an image whose brightest pixel is i."""
    num_classes = len(permutation)
    images = keras.Input((1, num_classes, 1))
    flat = keras.layers.Flatten()(images)
    logits = keras.layers.Dense(num_classes, name="logits")(flat)
    outputs = keras.layers.Softmax()(logits)
    model = keras.Model(images, outputs)
    kernel = 20.0 * np.eye(num_classes)[permutation]  # row i is one-hot(permutation[i])
    model.get_layer("logits").set_weights(
        [kernel.astype("float32"), np.zeros(num_classes, "float32")]
    )
    return model


def test_conditional_accuracy_against_a_known_confusion():
    cgan = _label_writing_cgan()
    images, labels = generate_images(cgan, 25, seed=0)
    np.testing.assert_array_equal(labels, np.arange(25) % NUM_CLASSES)
    np.testing.assert_allclose(images.reshape(25, -1), np.eye(NUM_CLASSES)[labels])

    permutation = np.arange(NUM_CLASSES)
    permutation[[3, 5]] = [5, 3]  # the classifier swaps 3 and 5
    classifier = _permuting_classifier(permutation)
    result = conditional_accuracy(classifier, cgan, num_images=1000, seed=0)
    assert result["accuracy"] == pytest.approx(0.8)
    expected_per_class = np.ones(NUM_CLASSES)
    expected_per_class[[3, 5]] = 0.0
    np.testing.assert_array_equal(result["per_class"], expected_per_class)
    expected_confusion = 100 * np.eye(NUM_CLASSES, dtype="int64")[permutation]
    np.testing.assert_array_equal(result["confusion"], expected_confusion)

    # 25 images: classes 0-4 requested 3 times, 5-9 twice.
    result = conditional_accuracy(classifier, cgan, num_images=25)
    assert result["accuracy"] == pytest.approx((25 - 3 - 2) / 25)
    with pytest.raises(ValueError, match="Expected a conditional GAN"):
        conditional_accuracy(classifier, build_gan("dense"))


def test_sample_report_counts_classes_and_compares_features():
    cgan = _label_writing_cgan()
    one_hot_images = np.eye(NUM_CLASSES, dtype="float32")[np.arange(40) % NUM_CLASSES]
    x_real = one_hot_images.reshape(40, 1, NUM_CLASSES, 1)
    merging = np.arange(NUM_CLASSES)
    merging[1] = 0  # the classifier calls every 1 a 0
    classifier = _permuting_classifier(merging)
    report = sample_report(classifier, cgan, x_real[:20], x_real[20:], num_images=50)
    expected = np.full(NUM_CLASSES, 0.1)
    expected[[0, 1]] = [0.2, 0.0]
    np.testing.assert_allclose(report["histogram"], expected)
    assert (report["smallest"], report["largest"]) == (0.0, pytest.approx(0.2))
    assert report["met"] is False
    # Distances from the first 20 generated images, as many as real test images.
    generated_features = features(classifier, report["images"][:20])
    reference = frechet_distance(generated_features, features(classifier, x_real[:20]))
    assert report["frechet_distance"] == pytest.approx(reference, rel=1e-6, abs=1e-9)
    # The generated, test and held-out sets hold the same 20 images: no distance.
    assert report["frechet_distance"] == pytest.approx(0.0, abs=1e-3)
    assert report["real_floor"] == pytest.approx(0.0, abs=1e-3)

    fair = sample_report(
        _permuting_classifier(np.arange(NUM_CLASSES)),
        cgan,
        x_real[:20],
        x_real[20:],
        50,
    )
    np.testing.assert_allclose(fair["histogram"], np.full(NUM_CLASSES, 0.1))
    assert fair["met"] is True
    # Fewer held-out images (10) than test images: both distances are computed
    # from 10 generated and 10 held-out images, against all 20 test images.
    small = sample_report(classifier, cgan, x_real[:20], x_real[20:30], num_images=50)
    assert small["num_compared"] == 10
    test_features = features(classifier, x_real[:20])
    assert small["frechet_distance"] == pytest.approx(
        frechet_distance(features(classifier, small["images"][:10]), test_features),
        rel=1e-6,
        abs=1e-9,
    )
    assert small["real_floor"] == pytest.approx(
        frechet_distance(features(classifier, x_real[20:30]), test_features),
        rel=1e-6,
        abs=1e-9,
    )


def test_generate_images_of_an_unconditional_gan_repeats_with_a_seed():
    gan = build_gan("dense", seed=0)
    images, labels = generate_images(gan, 6, seed=4)
    assert labels is None and images.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(images, generate_images(gan, 6, seed=4)[0])
    assert not np.array_equal(images, generate_images(gan, 6, seed=5)[0])


def test_plot_class_histograms_draws_the_fractions():
    first = np.array([0.5, 0.3, 0.2])
    second = np.array([0.1, 0.1, 0.8])
    fig = plot_class_histograms({"a": first, "b": second}, low=0.05, high=0.6)
    axis = fig.axes[0]
    heights = [[bar.get_height() for bar in bars] for bars in axis.containers]
    np.testing.assert_allclose(heights, [first, second])
    lines = sorted(line.get_ydata()[0] for line in axis.lines)
    assert lines == [0.05, 0.6]
    centres = [bar.get_x() + bar.get_width() / 2 for bar in axis.containers[0]]
    np.testing.assert_allclose(centres, np.arange(3) - 0.2)
    with pytest.raises(ValueError, match=r"Expected every histogram to have shape"):
        plot_class_histograms({"a": first, "b": second[:2]})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, y: build_gan("vae"), "Expected kind to be one of"),
        (lambda x, y: train_gan("conditional", x), "Expected one label per image"),
        (lambda x, y: train_gan("dense", x, num_epochs=0), "Expected num_epochs > 0"),
        (lambda x, y: train_gan("dense", x[0]), "Expected x_train of shape"),
        (lambda x, y: train_gans({}, x), "Expected recipes to be a non-empty dict"),
    ],
)
def test_invalid_arguments(call, message, digits):
    with pytest.raises(ValueError, match=message):
        call(*digits)
