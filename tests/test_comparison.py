import keras
import numpy as np
import pytest

from keras_ae.course import comparison
from keras_ae.evaluate import protocols
from keras_ae.evaluate.metrics import one_class_auroc
from keras_ae.train import gan_recipes, registry


def _digits_like(num_images=96, seed=0):
    """Two classes of 8x8 images: a bright left half, or a bright right half."""
    rng = np.random.default_rng(seed)
    y = np.arange(num_images) % 2
    x = rng.uniform(0.0, 0.2, size=(num_images, 8, 8, 1)).astype("float32")
    x[y == 0, :, :4] += 0.7
    x[y == 1, :, 4:] += 0.7
    return np.clip(x, 0, 1), y.astype("int64")


@pytest.fixture(scope="module")
def data():
    return _digits_like(96, seed=0), _digits_like(40, seed=1)


def test_kinds_and_families():
    assert len(registry.MODEL_KINDS) == 11
    assert set(registry.FAMILIES.values()) == {"autoencoder", "vae", "gan"}
    with pytest.raises(ValueError, match="Expected kind"):
        registry.train_model("pca", np.zeros((4, 8, 8, 1)))
    with pytest.raises(ValueError, match="num_epochs > 0"):
        registry.train_model("vae", np.zeros((4, 8, 8, 1)), num_epochs=0)
    with pytest.raises(ValueError, match="y_train"):
        registry.train_model("conditional_gan", np.zeros((4, 8, 8, 1)))


def test_autoencoder_row_matches_numpy(data):
    (x_train, y_train), (x_test, y_test) = data
    trained = registry.train_model(
        "undercomplete", x_train, num_epochs=2, batch_size=32
    )
    row = comparison.measure(trained, x_train, y_train, x_test, y_test)
    reconstructions = keras.ops.convert_to_numpy(trained.model(x_test))
    assert row["mse"] == pytest.approx(np.mean((x_test - reconstructions) ** 2))
    assert row["params"] == sum(int(np.prod(w.shape)) for w in trained.model.weights)
    assert row["train_s"] > 0 and row["epochs"] == 2 and row["code_size"] == 8
    assert 0 <= row["probe_codes"] <= 1
    # The pixel probe separates the two halves perfectly.
    assert row["probe_pixels"] == 1.0
    # No sampler: the sample columns are empty, not missing.
    assert row["frechet_distance"] is None and "num_covered" in row


def test_measure_with_a_validation_split(data):
    from keras_ae.evaluate.classifier import build_classifier, features
    from keras_ae.evaluate.metrics import frechet_distance
    from keras_ae.utils import set_seed

    (x_train, y_train), (x_test, y_test) = data
    x_val, y_val = _digits_like(30, seed=2)
    trained = registry.train_model("vae", x_train, num_epochs=1, code_size=2)
    set_seed(0)
    classifier = build_classifier(input_shape=(8, 8, 1), num_classes=2)
    row = comparison.measure(
        trained, x_train, y_train, x_test, y_test, classifier=classifier,
        x_val=x_val, y_val=y_val, num_generated=40, probe_baselines=False,
    )  # fmt: skip
    # The floor: validation against test images, 30 of each kind compared.
    test_features = features(classifier, x_test)
    assert row["real_floor"] == pytest.approx(
        frechet_distance(features(classifier, x_val), test_features)
    )
    generated = np.clip(trained.generate(40, 0), 0, 1)
    assert row["frechet_distance"] == pytest.approx(
        frechet_distance(features(classifier, generated[:30]), test_features),
        rel=1e-5,
    )
    counts = np.bincount(
        classifier.predict(generated, verbose=0).argmax(1), minlength=2
    )
    assert row["num_covered"] == int(np.sum(counts / 40 >= 0.01))
    assert row["all_within"] == bool(np.all((counts / 40 >= 0.25) & (counts / 40 <= 1)))
    assert row["smallest_class"] == pytest.approx(counts.min() / 40)
    assert row["largest_class"] == pytest.approx(counts.max() / 40)
    assert row["sample_ms"] > 0
    # The probe's C was chosen on the validation split; no baselines asked for.
    codes = [protocols._apply(trained.encoder, x, 64) for x in (x_train, x_val, x_test)]
    expected = protocols.tuned_probe_accuracy(
        codes[0], y_train, codes[1], y_val, codes[2], y_test
    )
    assert row["probe_codes"] == pytest.approx(expected["test"])
    assert row["probe_pixels"] is None and row["probe_pca"] is None
    with pytest.raises(ValueError, match="both x_val and y_val"):
        comparison.measure(trained, x_train, y_train, x_test, y_test, x_val=x_val)


def test_contractive_is_notebook_04s_encoder_with_the_closed_form(data):
    from keras_ae.models.contractive import jacobian_frobenius_closed_form

    (x_train, _), (x_test, _) = data
    trained = registry.train_model("contractive", x_train, num_epochs=1)
    model = trained.model
    assert model.uses_closed_form
    dense = [w for w in trained.encoder.weights if len(w.shape) == 2]
    assert [tuple(w.shape) for w in dense] == [(64, 8)]  # 8x8 pixels -> code 8
    assert model.contractive_weight == registry.CONTRACTIVE_WEIGHT
    # The closed form is the Frobenius norm of the encoder's Jacobian.
    import tensorflow as tf

    x = tf.constant(x_test[:5])
    with tf.GradientTape() as tape:
        tape.watch(x)
        codes = trained.encoder(x)
    jacobian = tape.batch_jacobian(codes, x).numpy()
    layer = trained.encoder.get_layer("code")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(jacobian_frobenius_closed_form(layer, x_test[:5])),
        np.sum(jacobian**2, axis=(1, 2, 3, 4)),
        rtol=1e-4,
    )


def test_same_seed_same_model(data):
    (x_train, _), (x_test, _) = data
    first, second = (
        registry.train_model("denoising", x_train, num_epochs=1, seed=3)
        for _ in range(2)
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.model(x_test)),
        keras.ops.convert_to_numpy(second.model(x_test)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_gan_rows_have_no_reconstruction(data):
    (x_train, y_train), (x_test, y_test) = data
    trained = registry.train_model(
        "conditional_gan", x_train, y_train, num_epochs=1, latent_dim=4
    )
    images = trained.generate(10, seed=0)
    assert images.shape == (10, 8, 8, 1)
    assert trained.encoder is None
    generator, discriminator = trained.model.generator, trained.model.discriminator
    assert trained.num_params == generator.count_params() + (
        discriminator.count_params()
    )
    row = comparison.measure(trained, x_train, y_train, x_test, y_test)
    assert row["mse"] is None and row["probe_codes"] is None
    assert comparison.anomaly_auroc("dcgan", x_train, y_train, x_test, y_test, [0]) is (
        None
    )


def test_anomaly_auroc_uses_reconstruction_error(data):
    (x_train, y_train), (x_test, y_test) = data
    protocol = comparison.anomaly_auroc(
        "undercomplete", x_train, y_train, x_test, y_test, [1], num_epochs=2, seed=0
    )
    # The same protocol by hand: same seed, same model, reconstruction errors.
    from keras_ae.utils import set_seed

    set_seed(0)
    model = registry.train_model(
        "undercomplete", x_train[y_train == 1], num_epochs=2, seed=0
    ).model
    scores = protocols.reconstruction_scores(model, x_test)
    assert protocol["per_class"][1] == pytest.approx(
        one_class_auroc(scores, y_test, 1), abs=1e-6
    )


def test_summarize_seeds_means_and_spreads():
    rows = [
        {"model": "vae", "family": "vae", "mse": 0.01, "frechet_distance": 2.0,
         "params": 10, "auroc": None},
        {"model": "vae", "family": "vae", "mse": 0.03, "frechet_distance": 4.0,
         "params": 10, "auroc": None},
    ]  # fmt: skip
    summary = comparison.summarize_seeds(rows)
    assert summary["mse"] == pytest.approx(0.02)
    assert summary["mse_std"] == pytest.approx(np.std([0.01, 0.03]))
    assert summary["fd_std"] == pytest.approx(1.0)
    assert summary["auroc"] is None and summary["seeds"] == 2
    assert comparison.summarize_seeds(rows[:1])["fd_std"] is None
    with pytest.raises(ValueError, match="at least one row"):
        comparison.summarize_seeds([])


@pytest.mark.parametrize("kind", ["dcgan", "dense_gan", "wgan_gp"])
def test_gans_use_the_tuned_recipes_of_notebook_07(data, kind):

    assert gan_recipes.GAN_RECIPES is gan_recipes.GAN_RECIPES  # one source
    recipe = gan_recipes.GAN_RECIPES[kind]
    g_rate = recipe["learning_rate"]
    d_rate = recipe.get("d_learning_rate", g_rate)
    (x_train, _), _ = data
    trained = registry.train_model(kind, x_train[:64], num_epochs=1, batch_size=32)
    model = trained.model
    lr = keras.ops.convert_to_numpy
    assert float(lr(model.g_optimizer.learning_rate)) == pytest.approx(g_rate)
    assert float(lr(model.d_optimizer.learning_rate)) == pytest.approx(d_rate)
    assert float(lr(model.g_optimizer.beta_1)) == pytest.approx(0.5)
    # Both networks took one step per batch (the critic 3): 2 batches, 1 epoch.
    assert int(lr(model.g_optimizer.iterations)) == 2
    critic_steps = recipe.get("critic_steps", 1) if kind == "wgan_gp" else 1
    assert int(lr(model.d_optimizer.iterations)) == 2 * critic_steps
    if kind == "dcgan":
        slopes = [
            layer.negative_slope
            for layer in model.generator.layers
            if isinstance(layer, keras.layers.LeakyReLU)
        ]
        slope = recipe["generator_negative_slope"]
        assert slopes and all(s == pytest.approx(slope) for s in slopes)
    # The generator is the one of gan_recipes.build_gan with latent_dim 32.
    assert model.generator.input_shape == (None, 32)


def test_add_to_comparison_appends_replaces_and_checks_the_profile(tmp_path):
    import json

    same = {"profile": "full", "dataset": "mnist_5k"}
    rows = [
        {"model": "vae", "family": "vae", "frechet_distance": 250.0, **same},
        {"model": "gan", "family": "gan", "frechet_distance": 140.0, **same},
    ]
    assert comparison.add_to_comparison({"model": "x", **same}, tmp_path) is None
    comparison.write_comparison(rows, tmp_path)
    new = {"model": "diffusion", "family": "diffusion", "frechet_distance": 160.5,
           "sample_ms": 59.0, **same}  # fmt: skip
    markdown = comparison.add_to_comparison(new, tmp_path)
    again = comparison.add_to_comparison({**new, "frechet_distance": 150.25}, tmp_path)
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert [r["model"] for r in saved] == ["vae", "gan", "diffusion"]
    assert saved[-1]["frechet_distance"] == 150.25  # replaced, not added twice
    assert "| diffusion" in markdown and "160.5" in markdown and "150.2" in again
    assert (tmp_path / "comparison.md").read_text() == again + "\n"
    with pytest.raises(ValueError, match="profile"):
        comparison.add_to_comparison({**new, "profile": "fast"}, tmp_path)
    with pytest.raises(ValueError, match="dataset"):
        comparison.add_to_comparison({**new, "dataset": "digits"}, tmp_path)
    with pytest.raises(ValueError, match="'model'"):
        comparison.add_to_comparison(same, tmp_path)
