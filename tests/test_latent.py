"""Tests for keras_ae.evaluate.latent against NumPy, SciPy and closed forms."""

import math

import keras
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import norm  # noqa: E402

from keras_ae.data import load_dataset  # noqa: E402
from keras_ae.evaluate import latent
from keras_ae.models.vae import VAE, ConditionalVAE, kl_divergence
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.train import vae_recipes
from keras_ae.utils import set_seed  # noqa: E402

IMAGE_SHAPE = (8, 8, 1)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
    return x_train, y_train, x_test, y_test


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def small_vae(latent_dim=2, beta=1.0, num_classes=None, seed=0):
    set_seed(seed)
    encoder = build_vae_encoder(
        IMAGE_SHAPE, latent_dim=latent_dim, hidden_units=(32,), num_classes=num_classes
    )
    decoder = build_vae_decoder(
        IMAGE_SHAPE, latent_dim=latent_dim, hidden_units=(32,), num_classes=num_classes
    )
    model = ConditionalVAE if num_classes else VAE
    return model(encoder, decoder, beta=beta, seed=seed)


def probability_model(num_classes):
    """A 'classifier' whose output is its input: rows of class probabilities."""
    inputs = keras.Input(shape=(num_classes,))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


# --------------------------------------------------------------------------
# grid_points, decode_points, tile_images, plot_latent_grid


def test_grid_points_are_normal_quantiles_in_page_order():
    points = latent.grid_points(5, probability_range=(0.1, 0.9))
    assert points.shape == (25, 2) and points.dtype == np.float32
    quantiles = np.linspace(0.1, 0.9, 5)
    # First coordinate: left to right along each row; second: top row highest.
    np.testing.assert_allclose(norm.cdf(points[:5, 0]), quantiles, atol=1e-6)
    np.testing.assert_allclose(norm.cdf(points[::5, 1]), quantiles[::-1], atol=1e-6)
    grid = points.reshape(5, 5, 2)
    assert np.all(grid[:, :, 0] == grid[0, :, 0])  # columns share code 1
    assert np.all(grid[:, :, 1] == grid[:, :1, 1])  # rows share code 2
    # Symmetric probabilities give a grid symmetric about 0, with 0 in the middle.
    np.testing.assert_allclose(points[:5, 0], -points[4::-1, 0], atol=1e-6)
    assert points[12].tolist() == [0.0, 0.0]


def test_grid_points_with_bounds_are_evenly_spaced():
    points = latent.grid_points(3, bounds=((-2.0, 4.0), (10.0, 11.0)))
    np.testing.assert_allclose(points[:3, 0], [-2.0, 1.0, 4.0])
    np.testing.assert_allclose(points[::3, 1], [11.0, 10.5, 10.0])
    assert latent.grid_points(2, bounds=((0.0, 1.0), (0.0, 2.0))).tolist() == [
        [0.0, 2.0],
        [1.0, 2.0],
        [0.0, 0.0],
        [1.0, 0.0],
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_per_side": 1}, "num_per_side"),
        ({"probability_range": (0.0, 0.9)}, "probability_range"),
        ({"probability_range": (0.9, 0.1)}, "probability_range"),
        ({"bounds": ((1.0, 0.0), (0.0, 1.0))}, "bounds"),
        ({"bounds": (0.0, 1.0)}, "bounds"),
    ],
)
def test_grid_points_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        latent.grid_points(**kwargs)


def test_decode_points_matches_numpy_for_plain_and_conditional_decoders():
    rng = np.random.default_rng(0)
    decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=3, hidden_units=())
    kernel, bias = decoder.get_layer("pixels").get_weights()
    z = rng.normal(size=(11, 3)).astype("float32")
    expected = sigmoid(z @ kernel + bias).reshape(11, *IMAGE_SHAPE)
    np.testing.assert_allclose(latent.decode_points(decoder, z), expected, atol=1e-6)
    # Batches of 4 split the 11 points unevenly; the result is the same.
    np.testing.assert_allclose(
        latent.decode_points(decoder, z, batch_size=4), expected, atol=1e-6
    )

    conditional = build_vae_decoder(
        IMAGE_SHAPE, latent_dim=3, hidden_units=(), num_classes=4
    )
    kernel, bias = conditional.get_layer("pixels").get_weights()
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3, 3, 3, 1])
    inputs = np.concatenate([z, np.eye(4)[labels]], axis=1)
    expected = sigmoid(inputs @ kernel + bias).reshape(11, *IMAGE_SHAPE)
    images = latent.decode_points(conditional, z, labels=labels, batch_size=4)
    np.testing.assert_allclose(images, expected, atol=1e-6)
    # One int label serves every point.
    inputs = np.concatenate([z, np.tile(np.eye(4)[2], (11, 1))], axis=1)
    np.testing.assert_allclose(
        latent.decode_points(conditional, z, labels=2),
        sigmoid(inputs @ kernel + bias).reshape(11, *IMAGE_SHAPE),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match=r"points of shape \(N, 3\)"):
        latent.decode_points(decoder, z[:, :2])


def test_tile_images_puts_each_image_in_its_block():
    images = np.random.default_rng(0).uniform(size=(6, 3, 2, 1)).astype("float32")
    mosaic = latent.tile_images(images, num_columns=3)
    assert mosaic.shape == (2 * 3, 3 * 2)
    np.testing.assert_array_equal(
        mosaic,
        np.block([[images[3 * r + c, ..., 0] for c in range(3)] for r in (0, 1)]),
    )
    padded = latent.tile_images(images, num_columns=3, padding=2, pad_value=-1.0)
    assert padded.shape == (2 * 3 + 2, 3 * 2 + 2 * 2)
    for index, image in enumerate(images[..., 0]):
        row, column = divmod(index, 3)
        top, left = row * (3 + 2), column * (2 + 2)
        np.testing.assert_array_equal(padded[top : top + 3, left : left + 2], image)
    # Everything outside the images is padding: 6 images of 6 pixels are all else.
    assert np.sum(padded == -1.0) == padded.size - 6 * 6
    with pytest.raises(ValueError, match="multiple of num_columns=4"):
        latent.tile_images(images, num_columns=4)


def test_plot_latent_grid_draws_the_mosaic_with_latent_tick_labels():
    points = latent.grid_points(3, bounds=((-1.0, 1.0), (0.0, 4.0)))
    images = np.random.default_rng(0).uniform(size=(9, 4, 4, 1)).astype("float32")
    fig = latent.plot_latent_grid(images, points, title="grid")
    (axis,) = fig.axes
    (drawn,) = axis.get_images()
    np.testing.assert_array_equal(
        np.asarray(drawn.get_array()),
        latent.tile_images(images, 3, padding=1, pad_value=0.5),
    )
    assert [t.get_text() for t in axis.get_xticklabels()] == ["-1.0", "0.0", "1.0"]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["4.0", "2.0", "0.0"]
    # Each tick sits at the centre of its column of 4 pixels, 1 pixel apart.
    np.testing.assert_allclose(axis.get_xticks(), [1.5, 6.5, 11.5])
    np.testing.assert_allclose(axis.get_yticks(), [1.5, 6.5, 11.5])
    with pytest.raises(ValueError, match="one image per point"):
        latent.plot_latent_grid(images[:8], points)
    with pytest.raises(ValueError, match="square 2-D grid"):
        latent.plot_latent_grid(images[:8], points[:8])


# --------------------------------------------------------------------------
# interpolate, interpolate_images


def test_interpolate_is_the_straight_line_with_both_ends():
    line = latent.interpolate([0.0, 0.0], [1.0, 2.0], num_steps=3)
    np.testing.assert_allclose(line, [[0.0, 0.0], [0.5, 1.0], [1.0, 2.0]])
    rng = np.random.default_rng(0)
    starts, ends = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    lines = latent.interpolate(starts, ends, num_steps=7)
    assert lines.shape == (4, 7, 5)
    np.testing.assert_allclose(lines[:, 0], starts, rtol=1e-6)
    np.testing.assert_allclose(lines[:, -1], ends, rtol=1e-6)
    # Equal steps: every difference between neighbours is (end - start) / 6.
    np.testing.assert_allclose(
        np.diff(lines, axis=1), np.repeat(((ends - starts) / 6)[:, None], 6, 1),
        atol=1e-6,
    )  # fmt: skip
    with pytest.raises(ValueError, match="same shape"):
        latent.interpolate(starts, ends[:, :4])
    with pytest.raises(ValueError, match="num_steps"):
        latent.interpolate(starts, ends, num_steps=1)


def test_spherical_interpolate_follows_the_great_circle():
    # Orthogonal unit codes: the quarter circle (cos, sin) of t * pi / 2.
    path = latent.spherical_interpolate([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], num_steps=5)
    t = np.linspace(0, 1, 5)
    np.testing.assert_allclose(path[:, 0], np.cos(t * np.pi / 2), atol=1e-6)
    np.testing.assert_allclose(path[:, 1], np.sin(t * np.pi / 2), atol=1e-6)
    np.testing.assert_allclose(path[:, 2], 0.0, atol=1e-7)
    # Random pairs: both ends kept, lengths linear in t, equal angles between
    # consecutive steps, every step in the plane of the two codes.
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4, 6))
    paths = latent.spherical_interpolate(a, b, num_steps=7).astype("float64")
    np.testing.assert_allclose(paths[:, 0], a, rtol=1e-6)
    np.testing.assert_allclose(paths[:, -1], b, rtol=1e-5, atol=1e-6)
    t = np.linspace(0, 1, 7)
    expected = (1 - t) * np.linalg.norm(a, axis=1)[:, None] + t * np.linalg.norm(
        b, axis=1
    )[:, None]
    np.testing.assert_allclose(np.linalg.norm(paths, axis=2), expected, rtol=1e-5)
    units = paths / np.linalg.norm(paths, axis=2, keepdims=True)
    steps = np.arccos(np.clip((units[:, 1:] * units[:, :-1]).sum(axis=2), -1, 1))
    np.testing.assert_allclose(steps, steps[:, :1].repeat(6, axis=1), rtol=1e-3)
    for n in range(4):
        coefficients = np.linalg.lstsq(
            np.stack([a[n], b[n]], 1), paths[n].T, rcond=None
        )
        np.testing.assert_allclose(np.stack([a[n], b[n]], 1) @ coefficients[0],
                                   paths[n].T, atol=1e-5)  # fmt: skip
    # The same direction: the straight line. A zero code has no direction.
    np.testing.assert_allclose(
        latent.spherical_interpolate([1.0, 2.0], [2.0, 4.0], 3),
        latent.interpolate([1.0, 2.0], [2.0, 4.0], 3),
    )
    with pytest.raises(ValueError, match="non-zero length"):
        latent.spherical_interpolate([0.0, 0.0], [1.0, 0.0], 3)


def test_interpolate_images_with_identity_codes_is_a_pixel_cross_fade():
    rng = np.random.default_rng(0)
    x_start = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
    x_end = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
    encoded = []

    def encode(x):
        encoded.append(len(x))
        return x.reshape(len(x), -1)

    def decode(z):
        return z.reshape(len(z), 4, 4, 1)

    rows = latent.interpolate_images(encode, decode, x_start, x_end, num_steps=5)
    assert rows.shape == (3, 5, 4, 4, 1)
    assert encoded == [6]  # one call encodes both ends of every pair
    t = np.linspace(0.0, 1.0, 5)[None, :, None, None, None]
    expected = (1 - t) * x_start[:, None] + t * x_end[:, None]
    np.testing.assert_allclose(rows, expected, atol=1e-6)


def test_largest_step_share_closed_forms():
    rng = np.random.default_rng(0)
    x_a, x_b = rng.uniform(size=(2, 1, 4, 4, 1))
    t = np.linspace(0.0, 1.0, 6)[None, :, None, None, None]
    fade = (1 - t) * x_a[:, None] + t * x_b[:, None]  # five equal steps
    np.testing.assert_allclose(latent.largest_step_share(fade), [0.2])
    jump = np.concatenate([np.repeat(x_a[:, None], 5, 1), x_b[:, None]], axis=1)
    np.testing.assert_allclose(latent.largest_step_share(jump), [1.0])
    # Steps of lengths 1, 2, 3 along a line (in a 2-pixel image): 3 / 6.
    path = np.array([[[0, 0], [1, 0], [3, 0], [6, 0]]], dtype="float32")
    np.testing.assert_allclose(latent.largest_step_share(path), [0.5])
    still = np.zeros((1, 4, 2))
    assert np.isnan(latent.largest_step_share(still)[0])
    with pytest.raises(ValueError, match="T >= 2"):
        latent.largest_step_share(np.zeros((3, 1, 2)))


# --------------------------------------------------------------------------
# sample_scores, active_dims


def test_sample_scores_closed_forms():
    classifier = probability_model(4)
    one_hot = np.eye(4, dtype="float32")[[0, 1, 2, 3, 0, 1, 2, 3]]
    scores = latent.sample_scores(classifier, one_hot)
    assert scores["confidence"] == pytest.approx(1.0)
    np.testing.assert_allclose(scores["histogram"], [0.25] * 4)
    assert scores["effective_classes"] == pytest.approx(4.0)
    assert scores["classifier_score"] == pytest.approx(4.0, rel=1e-6)

    collapsed = latent.sample_scores(classifier, np.eye(4, dtype="float32")[[2] * 5])
    np.testing.assert_allclose(collapsed["histogram"], [0, 0, 1, 0])
    assert collapsed["effective_classes"] == pytest.approx(1.0)
    assert collapsed["classifier_score"] == pytest.approx(1.0, rel=1e-6)

    unsure = latent.sample_scores(classifier, np.full((5, 4), 0.25, "float32"))
    assert unsure["confidence"] == pytest.approx(0.25)
    assert unsure["classifier_score"] == pytest.approx(1.0, rel=1e-6)

    # A general case against the formulas written out with NumPy.
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(4, 0.5), size=200)
    scores = latent.sample_scores(classifier, p.astype("float32"))
    histogram = np.bincount(p.argmax(1), minlength=4) / 200
    marginal = p.mean(0)
    assert scores["confidence"] == pytest.approx(p.max(1).mean(), rel=1e-6)
    np.testing.assert_allclose(scores["histogram"], histogram)
    entropy = -np.sum(histogram[histogram > 0] * np.log(histogram[histogram > 0]))
    assert scores["effective_classes"] == pytest.approx(np.exp(entropy), rel=1e-9)
    mean_kl = np.mean(np.sum(p * np.log(p / marginal), axis=1))
    assert scores["classifier_score"] == pytest.approx(np.exp(mean_kl), rel=1e-4)


def test_active_dims_counts_dimensions_whose_mean_varies():
    encoder = build_vae_encoder(IMAGE_SHAPE, latent_dim=3, hidden_units=())
    kernel = np.zeros((64, 3), "float32")
    kernel[:, 0] = 1.0  # z_mean_0 = sum of the pixels: varies a lot
    kernel[:, 1] = 0.1  # z_mean_1 = 0.1 * sum: 1% of dimension 0's variance
    encoder.get_layer("z_mean").set_weights([kernel, np.zeros(3, "float32")])
    x = np.random.default_rng(0).uniform(size=(50, *IMAGE_SHAPE)).astype("float32")
    variance = x.reshape(50, -1).sum(1).astype("float64").var()
    assert variance * 0.01 > 0.01  # so both dimensions count at the default
    assert latent.active_dims(encoder, x, batch_size=7) == 2
    # Dimension 2 never varies; dimension 1 counts only below 1% of variance.
    assert latent.active_dims(encoder, x, threshold=0.011 * variance) == 1
    assert latent.active_dims(encoder, x, threshold=0.009 * variance) == 2
    assert latent.active_dims(encoder, x, threshold=2 * variance) == 0


# --------------------------------------------------------------------------
# fit_vae, beta_sweep


def test_fit_vae_lowers_the_loss_repeatably_and_decays_the_step_size(digits):
    x_train = digits[0][:512]

    def train():
        vae = small_vae()
        history = vae_recipes.fit_vae(
            vae, x_train, num_epochs=4, batch_size=128, learning_rate=3e-3, seed=1
        )
        return vae, history.history

    vae, logs = train()
    assert set(logs) >= {"loss", "reconstruction_loss", "kl_loss"}
    assert len(logs["loss"]) == 4 and logs["loss"][-1] < logs["loss"][0]
    # beta = 1: the loss is the sum of its two parts, epoch by epoch.
    np.testing.assert_allclose(
        logs["loss"], np.add(logs["reconstruction_loss"], logs["kl_loss"]), rtol=1e-5
    )
    # Cosine decay from 3e-3 to 0 over 4 epochs of 4 steps: 0 after the last.
    assert int(vae.optimizer.iterations) == 16
    assert float(vae.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    _, again = train()
    np.testing.assert_allclose(again["loss"], logs["loss"], rtol=1e-5)


def test_fit_vae_trains_a_conditional_vae_and_checks_labels(digits):
    x_train, y_train = digits[0][:256], digits[1][:256]
    cvae = small_vae(num_classes=10)
    history = vae_recipes.fit_vae(
        cvae,
        x_train,
        y_train,
        num_epochs=2,
        batch_size=128,
        validation_data=(digits[2][:64], digits[3][:64]),
    )
    assert np.all(np.isfinite(history.history["val_loss"]))
    with pytest.raises(ValueError, match="Expected y_train for a ConditionalVAE"):
        vae_recipes.fit_vae(cvae, x_train, num_epochs=1)
    with pytest.raises(ValueError, match="no y_train for a VAE"):
        vae_recipes.fit_vae(small_vae(), x_train, y_train, num_epochs=1)
    with pytest.raises(ValueError, match="num_epochs"):
        vae_recipes.fit_vae(small_vae(), x_train, num_epochs=0)


def test_beta_sweep_rows_match_closed_forms(digits):
    x_train, _, x_test, _ = digits
    classifier = keras.Sequential(
        [keras.Input(IMAGE_SHAPE), keras.layers.Flatten(), keras.layers.Dense(10)]
        + [keras.layers.Softmax()]
    )
    rows = vae_recipes.beta_sweep(
        x_train[:512],
        x_test[:100],
        betas=(0.0, 20.0),
        latent_dim=3,
        hidden_units=(32,),
        num_epochs=6,
        batch_size=128,
        learning_rate=3e-3,
        classifier=classifier,
        num_samples=50,
    )
    assert [row["beta"] for row in rows] == [0.0, 20.0]
    for row in rows:
        vae = row["vae"]
        assert vae.beta == row["beta"] and vae.latent_dim == 3
        assert row["elbo"] == pytest.approx(-(row["reconstruction"] + row["kl"]))
        # The KL term is exact (closed form), so it matches the encoder's outputs.
        z_mean, z_log_var = vae.encoder.predict(x_test[:100], verbose=0)
        kl = np.mean(keras.ops.convert_to_numpy(kl_divergence(z_mean, z_log_var)))
        assert row["kl"] == pytest.approx(float(kl), rel=1e-4)
        assert row["active_dims"] == latent.active_dims(vae.encoder, x_test[:100])
        assert row["samples"].shape == (50, *IMAGE_SHAPE)
        scores = latent.sample_scores(classifier, row["samples"])
        assert row["confidence"] == pytest.approx(scores["confidence"])
    # A heavy KL weight pulls q(z | x) onto the prior: far less KL than beta = 0.
    assert rows[1]["kl"] < 0.1 * rows[0]["kl"]
    with pytest.raises(ValueError, match="every beta >= 0"):
        vae_recipes.beta_sweep(x_train, x_test, betas=(1.0, -1.0))


def test_vae_sweep_trains_each_latent_size_and_beta(digits):
    x_train, _, x_val, _ = digits
    rows = vae_recipes.vae_sweep(
        x_train[:256],
        x_val[:64],
        [(2, 1.0), (5, 0.5)],
        hidden_units=(16,),
        num_epochs=2,
        batch_size=128,
    )
    assert [(row["latent_dim"], row["beta"]) for row in rows] == [(2, 1.0), (5, 0.5)]
    for row in rows:
        vae = row["vae"]
        assert (vae.latent_dim, vae.beta) == (row["latent_dim"], row["beta"])
        assert vae.encoder.output_shape == [(None, row["latent_dim"])] * 2
        assert row["elbo"] == pytest.approx(-(row["reconstruction"] + row["kl"]))
        # The KL term in closed form, recomputed with NumPy.
        z_mean, z_log_var = vae.encoder.predict(x_val[:64], verbose=0)
        kl = 0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - 1 - z_log_var, axis=1)
        assert row["kl"] == pytest.approx(float(kl.mean()), rel=1e-4)
        assert 0 <= row["active_dims"] <= row["latent_dim"]
    for bad in ([(0, 1.0)], [(2, -1.0)], [(2,)], [(2.5, 1.0)]):
        with pytest.raises(ValueError, match="latent_dim >= 1, beta >= 0"):
            vae_recipes.vae_sweep(x_train[:64], x_val[:16], bad, num_epochs=1)


def test_sweep_seconds_are_measured(digits):
    x_train, _, x_test, _ = digits
    (row,) = vae_recipes.beta_sweep(
        x_train[:128], x_test[:32], betas=(1,), hidden_units=(8,), num_epochs=1
    )
    assert 0.0 < row["seconds"] < 120.0 and math.isfinite(row["elbo"])
    assert "confidence" not in row
