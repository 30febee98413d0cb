"""Tests for keras_ae.evaluate.protocols against NumPy, scikit-learn and hand cases."""

import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keras_ae  # noqa: F401  (selects the TensorFlow backend)
from keras_ae.data import load_dataset
from keras_ae.evaluate import protocols
from keras_ae.evaluate.analysis import linear_probe_accuracy
from keras_ae.evaluate.classifier import build_classifier, features
from keras_ae.evaluate.metrics import frechet_distance, reconstruction_mse, ssim
from keras_ae.models.autoencoders import build_dense_autoencoder
from keras_ae.models.vae import VAE
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.train.recipes import fit_autoencoder
from keras_ae.utils import set_seed


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
    return x_train, y_train, x_test, y_test


def numpy_psnr(x, reconstructions):
    per_image = np.mean((x.astype("float64") - reconstructions) ** 2, axis=(1, 2, 3))
    return np.mean(10 * np.log10(1.0 / per_image))


# --------------------------------------------------------------------------
# reconstruction_report and reconstruction_scores


def test_reconstruction_report_of_a_keras_model(digits):
    x_test = digits[2]
    set_seed(0)
    model = build_dense_autoencoder(input_shape=(8, 8, 1), code_size=4)
    reconstructions = model.predict(x_test, verbose=0)
    # Batches of 100 split the 450 images unevenly; the result must not change.
    report = protocols.reconstruction_report(model, x_test, batch_size=100)
    assert set(report) == {"mse", "psnr", "ssim"}
    assert report["mse"] == pytest.approx(reconstruction_mse(model, x_test), rel=1e-6)
    assert report["psnr"] == pytest.approx(
        numpy_psnr(x_test, reconstructions), rel=1e-5
    )
    assert report["ssim"] == pytest.approx(ssim(x_test, reconstructions), abs=1e-5)
    assert 0.02 < report["mse"] < 0.5  # an untrained model reconstructs badly


def test_reconstruction_report_of_functions_closed_forms(digits):
    x_test = digits[2]
    x64 = x_test.astype("float64")
    exact = protocols.reconstruction_report(lambda x: x, x_test)
    assert exact == {"mse": 0.0, "psnr": np.inf, "ssim": pytest.approx(1.0)}
    # Halving every pixel: the error of each pixel is x / 2.
    halved = protocols.reconstruction_report(lambda x: 0.5 * x, x_test)
    assert halved["mse"] == pytest.approx(np.mean((x64 / 2) ** 2), rel=1e-6)
    assert halved["psnr"] == pytest.approx(numpy_psnr(x_test, x64 / 2), rel=1e-6)
    with pytest.raises(ValueError, match="reconstructions of the input's shape"):
        protocols.reconstruction_report(lambda x: x[:, :4], x_test)


def test_reconstruction_scores_per_image(digits):
    x_test = digits[2][:50]
    mean_image = x_test.mean(axis=0)
    scores = protocols.reconstruction_scores(
        lambda x: np.broadcast_to(mean_image, x.shape), x_test, batch_size=16
    )
    expected = np.mean((x_test.astype("float64") - mean_image) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert scores.shape == (50,)


# --------------------------------------------------------------------------
# probe_comparison


def test_probe_comparison_against_sklearn(digits):
    x_train, y_train, x_test, y_test = digits
    flat_train, flat_test = x_train.reshape(-1, 64), x_test.reshape(-1, 64)
    pca = PCA(n_components=8).fit(flat_train)

    def encode(x):  # the PCA codes themselves: the "codes" probe must equal "pca"
        return pca.transform(x.reshape(len(x), -1))

    result = protocols.probe_comparison(encode, x_train, y_train, x_test, y_test)
    assert result["code_size"] == 8
    assert result["codes"] == pytest.approx(result["pca"], abs=1e-12)
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    reference.fit(flat_train, y_train)
    assert result["pixels"] == pytest.approx(reference.score(flat_test, y_test))
    reference.fit(pca.transform(flat_train), y_train)
    assert result["pca"] == pytest.approx(
        reference.score(pca.transform(flat_test), y_test)
    )
    print(f"digits probes: pixels {result['pixels']:.3f}, PCA-8 {result['pca']:.3f}")
    assert result["pca"] < result["pixels"]  # 8 components lose some information
    assert result["pixels"] > 0.9


def test_probe_comparison_uses_the_first_output_of_a_vae_encoder(digits):
    x_train, y_train, x_test, y_test = digits
    set_seed(0)
    encoder = build_vae_encoder(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,))
    result = protocols.probe_comparison(
        encoder, x_train, y_train, x_test, y_test, code_size=3
    )
    z_mean_train = encoder.predict(x_train, verbose=0)[0]
    z_mean_test = encoder.predict(x_test, verbose=0)[0]
    expected = linear_probe_accuracy(z_mean_train, y_train, z_mean_test, y_test)
    assert result["codes"] == pytest.approx(expected)
    assert result["code_size"] == 3


def sklearn_probe(train, y_train, test, y_test, C):
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    return reference.fit(train, y_train).score(test, y_test)


def test_tuned_probe_accuracy_chooses_C_on_validation_against_sklearn(digits):
    x_train, y_train, x_test, y_test = digits
    flat = {"train": x_train.reshape(-1, 64), "test": x_test.reshape(-1, 64)}
    x_val, y_val = flat["test"][:200], y_test[:200]  # a stand-in split
    x_rest, y_rest = flat["test"][200:], y_test[200:]
    Cs = (0.001, 0.1, 10.0)
    result = protocols.tuned_probe_accuracy(
        flat["train"], y_train, x_val, y_val, x_rest, y_rest, Cs=Cs
    )
    val = {C: sklearn_probe(flat["train"], y_train, x_val, y_val, C) for C in Cs}
    best = max(sorted(Cs), key=val.get)
    assert result["C"] == best
    assert result["val"] == pytest.approx(val[best])
    assert result["test"] == pytest.approx(
        sklearn_probe(flat["train"], y_train, x_rest, y_rest, best)
    )
    print(f"validation accuracies by C: {val}")
    assert val[0.001] < val[best]  # a strong penalty underfits the pixels
    with pytest.raises(ValueError, match="Expected Cs to be numbers > 0"):
        protocols.tuned_probe_accuracy(
            flat["train"], y_train, x_val, y_val, x_rest, y_rest, Cs=(0.0,)
        )


def test_probe_comparison_with_a_validation_split(digits):
    x_train, y_train, x_test, y_test = digits
    x_val, y_val, x_rest, y_rest = (
        x_test[:200],
        y_test[:200],
        x_test[200:],
        y_test[200:],
    )
    pca = PCA(n_components=6).fit(x_train.reshape(-1, 64))

    def encode(x):
        return pca.transform(x.reshape(len(x), -1))

    Cs = (0.01, 1.0)
    result = protocols.probe_comparison(
        encode, x_train, y_train, x_rest, y_rest, x_val=x_val, y_val=y_val, Cs=Cs
    )
    expected = protocols.tuned_probe_accuracy(
        encode(x_train), y_train, encode(x_val), y_val, encode(x_rest), y_rest, Cs=Cs
    )
    assert result["codes"] == pytest.approx(expected["test"])
    assert result["C"]["codes"] == expected["C"]
    assert result["pca"] == pytest.approx(result["codes"], abs=1e-12)
    pixels = protocols.tuned_probe_accuracy(
        x_train, y_train, x_val, y_val, x_rest, y_rest, Cs=Cs
    )
    assert result["pixels"] == pytest.approx(pixels["test"])
    assert set(result["C"]) == {"codes", "pixels", "pca"}

    only_codes = protocols.probe_comparison(
        encode, x_train, y_train, x_rest, y_rest, x_val=x_val, y_val=y_val, Cs=Cs,
        baselines=False,
    )  # fmt: skip
    assert only_codes["pixels"] is None and only_codes["pca"] is None
    assert only_codes["codes"] == result["codes"]
    with pytest.raises(ValueError, match="both x_val and y_val"):
        protocols.probe_comparison(
            encode, x_train, y_train, x_rest, y_rest, x_val=x_val
        )


# --------------------------------------------------------------------------
# Anomaly detection


def test_pca_anomaly_scores_equal_the_projection_residual(digits):
    x_train, y_train, x_test, _ = digits
    normal = x_train[y_train == 0]
    scores = protocols.pca_anomaly_scores(normal, x_test, code_size=5)
    train = normal.reshape(len(normal), -1).astype("float64")
    test = x_test.reshape(len(x_test), -1).astype("float64")
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    centered = test - mean
    residual = centered - centered @ vt[:5].T @ vt[:5]
    np.testing.assert_allclose(scores, np.mean(residual**2, axis=1), rtol=1e-8)


def label_images(y, rng):
    """Images whose pixels all equal their label / 10, plus a little noise."""
    y = np.asarray(y)
    noise = 0.01 * rng.uniform(size=(len(y), 4, 4, 1))
    return (y[:, None, None, None] / 10 + noise).astype("float32")


def test_one_class_protocol_perfect_and_random_scorers():
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 10, 500), rng.integers(0, 10, 2000)
    x_train, x_test = label_images(y_train, rng), label_images(y_test, rng)

    def learn_the_class(x_normal):
        return round(float(x_normal.mean()) * 10)

    def perfect(normal_class, x):
        return np.abs(x.mean(axis=(1, 2, 3)) * 10 - normal_class)

    result = protocols.one_class_protocol(
        learn_the_class, x_train, y_train, x_test, y_test, score=perfect
    )
    assert result["per_class"] == {c: 1.0 for c in range(10)}
    assert result["mean"] == 1.0

    scorer_rng = np.random.default_rng(1)
    result = protocols.one_class_protocol(
        learn_the_class,
        x_train,
        y_train,
        x_test,
        y_test,
        classes=range(10),
        score=lambda model, x: scorer_rng.uniform(size=len(x)),
    )
    assert sorted(result["per_class"]) == list(range(10))
    # Each AUROC of a random score has a standard deviation near 0.02 here.
    assert all(abs(v - 0.5) < 0.08 for v in result["per_class"].values())
    assert abs(result["mean"] - 0.5) < 0.03


def test_one_class_protocol_reconstruction_score_and_pca_baseline(digits):
    x_train, y_train, x_test, y_test = digits

    def mean_image_model(x_normal):  # "reconstructs" every image as the class mean
        mean_image = x_normal.mean(axis=0)
        return lambda x: np.broadcast_to(mean_image, x.shape)

    result = protocols.one_class_protocol(
        mean_image_model, x_train, y_train, x_test, y_test, classes=(0, 7)
    )
    for c in (0, 7):
        mean_image = x_train[y_train == c].mean(axis=0).astype("float64")
        errors = np.mean((x_test - mean_image) ** 2, axis=(1, 2, 3))
        assert result["per_class"][c] == pytest.approx(
            roc_auc_score(y_test != c, errors), abs=1e-9
        )
    assert result["mean"] == pytest.approx(np.mean(list(result["per_class"].values())))

    baseline = protocols.one_class_protocol(
        lambda x: x,
        x_train,
        y_train,
        x_test,
        y_test,
        classes=(0, 7),
        score=lambda x_normal, x: protocols.pca_anomaly_scores(x_normal, x, 8),
    )
    for c in (0, 7):
        scores = protocols.pca_anomaly_scores(x_train[y_train == c], x_test, 8)
        assert baseline["per_class"][c] == pytest.approx(
            roc_auc_score(y_test != c, scores), abs=1e-12
        )
    print(
        f"one-class AUROC, classes 0 and 7: mean image {result['mean']:.3f}, "
        f"PCA-8 {baseline['mean']:.3f}"
    )
    assert baseline["mean"] > 0.9


def test_one_class_protocol_with_a_trained_autoencoder(digits):
    x_train, y_train, x_test, y_test = digits
    trained = []

    def build_and_train(x_normal):
        model = build_dense_autoencoder(
            input_shape=(8, 8, 1), code_size=4, hidden_units=(32,)
        )
        fit_autoencoder(model, x_normal, num_epochs=40, batch_size=32)
        trained.append(model)
        return model

    result = protocols.one_class_protocol(
        build_and_train, x_train, y_train, x_test, y_test, classes=(8,)
    )
    reconstructions = trained[0].predict(x_test, verbose=0).astype("float64")
    errors = np.mean((reconstructions - x_test) ** 2, axis=(1, 2, 3))
    expected = roc_auc_score(y_test != 8, errors)
    assert result["per_class"][8] == pytest.approx(expected, abs=1e-6)
    print(f"one-class AUROC, class 8, dense autoencoder: {expected:.3f}")
    assert expected > 0.8


def test_one_class_models_kept_and_scored_on_another_split(digits):
    x_train, y_train, x_test, y_test = digits
    x_val, y_val, x_rest, y_rest = (
        x_test[:200],
        y_test[:200],
        x_test[200:],
        y_test[200:],
    )

    def mean_image_model(x_normal):
        mean_image = x_normal.mean(axis=0)
        return lambda x: np.broadcast_to(mean_image, x.shape)

    on_val = protocols.one_class_protocol(
        mean_image_model, x_train, y_train, x_val, y_val, classes=(1, 5),
        keep_models=True,
    )  # fmt: skip
    assert sorted(on_val["models"]) == [1, 5]
    on_rest = protocols.evaluate_one_class(on_val["models"], x_rest, y_rest)
    for c in (1, 5):
        mean_image = x_train[y_train == c].mean(axis=0).astype("float64")
        for result, x, y in ((on_val, x_val, y_val), (on_rest, x_rest, y_rest)):
            errors = np.mean((x - mean_image) ** 2, axis=(1, 2, 3))
            assert result["per_class"][c] == pytest.approx(
                roc_auc_score(y != c, errors), abs=1e-9
            )
    assert on_rest["mean"] == pytest.approx(
        np.mean(list(on_rest["per_class"].values()))
    )
    assert "models" not in on_rest
    assert "models" not in protocols.one_class_protocol(
        mean_image_model, x_train, y_train, x_val, y_val, classes=(1,)
    )
    with pytest.raises(ValueError, match="non-empty dict class -> model"):
        protocols.evaluate_one_class({}, x_rest, y_rest)
    with pytest.raises(ValueError, match="one label per image"):
        protocols.evaluate_one_class(on_val["models"], x_rest, y_rest[:5])


def test_one_class_protocol_rejects_bad_arguments(digits):
    x_train, y_train, x_test, y_test = digits
    with pytest.raises(ValueError, match="Expected score to be 'reconstruction'"):
        protocols.one_class_protocol(
            lambda x: x, x_train, y_train, x_test, y_test, score="elbo"
        )
    with pytest.raises(ValueError, match=r"missing \[12\]"):
        protocols.one_class_protocol(
            lambda x: x, x_train, y_train, x_test, y_test, classes=(0, 12)
        )
    with pytest.raises(ValueError, match="one score per image"):
        protocols.one_class_protocol(
            lambda x: x,
            x_train,
            y_train,
            x_test,
            y_test,
            classes=(0,),
            score=lambda model, x: np.zeros(3),
        )


def test_negative_elbo_scores_are_the_terms_of_test_elbo(digits):
    x_test = digits[2][:40]
    set_seed(0)
    encoder = build_vae_encoder(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,))
    decoder = build_vae_decoder(
        output_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,)
    )
    vae = VAE(encoder, decoder, seed=0)
    scores = protocols.negative_elbo_scores(vae, x_test, num_samples=3, seed=5)
    assert scores.shape == (40,)
    assert scores.mean() == pytest.approx(
        -vae.test_elbo(x_test, num_samples=3, seed=5), rel=1e-5
    )
    # A NumPy reference per image, with the same draws: VAE._test_elbo draws
    # epsilon of shape (num_samples, batch, latent_dim) from a fresh
    # SeedGenerator(seed), and clips z_log_var and the probabilities.
    epsilon = keras.ops.convert_to_numpy(
        keras.random.normal((3, 40, 2), seed=keras.random.SeedGenerator(5))
    ).astype("float64")
    z_mean, z_log_var = (
        v.astype("float64") for v in encoder.predict(x_test, verbose=0)
    )
    z_log_var = np.clip(z_log_var, -10, 10)
    z = z_mean + np.exp(0.5 * z_log_var) * epsilon
    p = decoder.predict(z.reshape(-1, 2), verbose=0).reshape(3, 40, 64)
    p = np.clip(p.astype("float64"), 1e-7, 1 - 1e-7)
    x = x_test.reshape(1, 40, 64).astype("float64")
    log_p_x = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1).mean(axis=0)
    kl = 0.5 * np.sum(np.exp(z_log_var) + z_mean**2 - 1 - z_log_var, axis=1)
    np.testing.assert_allclose(scores, kl - log_p_x, rtol=1e-5)
    assert np.ptp(scores) > 1.0  # images differ: a shuffled order would fail


# --------------------------------------------------------------------------
# Samples: class_coverage and sample_quality


def test_class_coverage_hand_case_and_numpy():
    coverage = protocols.class_coverage([50, 30, 20, 0], threshold=0.25)
    assert coverage["num_covered"] == 2
    assert coverage["covered"] == [0, 1]
    assert coverage["all_within"] is False  # class 3 is below 0.5 / 4
    np.testing.assert_allclose(coverage["fractions"], [0.5, 0.3, 0.2, 0.0])
    assert (coverage["low"], coverage["high"]) == (0.125, 0.5)
    assert protocols.class_coverage([25, 25, 30, 20])["all_within"] is True
    assert protocols.class_coverage([0.6, 0.2, 0.1, 0.1])["all_within"] is False
    rng = np.random.default_rng(0)
    for _ in range(5):
        histogram = rng.dirichlet(np.full(10, 0.7))
        threshold, low, high = 0.05, 0.03, 0.2
        coverage = protocols.class_coverage(histogram, threshold, low, high)
        assert coverage["num_covered"] == np.sum(histogram >= threshold)
        assert coverage["all_within"] == bool(
            np.all((histogram >= low) & (histogram <= high))
        )
    with pytest.raises(ValueError, match="some samples"):
        protocols.class_coverage([0, 0])
    with pytest.raises(ValueError, match="counts or fractions >= 0"):
        protocols.class_coverage([1, -1])


def test_sample_quality_with_an_untrained_classifier(digits):
    x_train, _, x_test, _ = digits
    set_seed(0)
    classifier = build_classifier(input_shape=(8, 8, 1), num_classes=10)
    heldout = x_train[:450]
    noise = np.random.default_rng(0).uniform(size=x_test.shape).astype("float32")
    quality = protocols.sample_quality(classifier, noise, x_test, heldout)
    test_features = features(classifier, x_test)
    assert quality["frechet_distance"] == pytest.approx(
        frechet_distance(features(classifier, noise), test_features)
    )
    assert quality["real_floor"] == pytest.approx(
        frechet_distance(features(classifier, heldout), test_features)
    )
    probabilities = classifier.predict(noise, verbose=0)
    expected = np.bincount(probabilities.argmax(axis=1), minlength=10) / len(noise)
    np.testing.assert_allclose(quality["histogram"], expected)
    assert quality["num_covered"] == np.sum(expected >= 0.01)
    assert quality["confidence"] == pytest.approx(probabilities.max(axis=1).mean())
    # Noise is far from the digits; other real digits are near the floor.
    assert quality["frechet_distance"] > 5 * quality["real_floor"]
    real = protocols.sample_quality(classifier, x_train[450:900], x_test, heldout)
    assert real["frechet_distance"] < 2 * quality["real_floor"]


def test_sample_quality_compares_sets_of_the_same_size(digits):
    x_train, _, x_test, _ = digits
    set_seed(0)
    classifier = build_classifier(input_shape=(8, 8, 1), num_classes=10)
    noise = np.random.default_rng(1).uniform(size=(400, 8, 8, 1)).astype("float32")
    heldout = x_train[:150]  # fewer held-out images than generated ones
    quality = protocols.sample_quality(classifier, noise, x_test, heldout)
    test_features = features(classifier, x_test)
    assert quality["num_compared"] == 150
    assert quality["frechet_distance"] == pytest.approx(
        frechet_distance(features(classifier, noise[:150]), test_features)
    )
    assert quality["real_floor"] == pytest.approx(
        frechet_distance(features(classifier, heldout), test_features)
    )
    # The class histogram counts every generated image.
    predicted = classifier.predict(noise, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(
        quality["histogram"], np.bincount(predicted, minlength=10) / 400
    )
    fewer = protocols.sample_quality(classifier, noise[:100], x_test, heldout)
    assert fewer["num_compared"] == 100
    assert fewer["real_floor"] == pytest.approx(
        frechet_distance(features(classifier, heldout[:100]), test_features)
    )


# --------------------------------------------------------------------------
# Tables
