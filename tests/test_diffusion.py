"""Tests for the diffusion modules (diffusion, noise_schedule, unet) against
closed forms, Bayes' rule and oracles.

The oracle denoisers know the data exactly: for a single image `x*` the noise
in `x_t` is `(x_t - sqrt(abar_t) x*) / sqrt(1 - abar_t)`; for Gaussian data
`x_0 ~ N(m, s^2)` its posterior mean is `E[eps | x_t] = sqrt(1 - abar_t)
(x_t - sqrt(abar_t) m) / (abar_t s^2 + 1 - abar_t)`. With them the samplers
must reproduce the data, whatever network a real model would learn.
"""

import math
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_ae.models.diffusion import DiffusionModel
from keras_ae.models.noise_schedule import NoiseSchedule
from keras_ae.models.unet import SinusoidalEmbedding, build_unet_denoiser

T = 1000
# Ho et al.'s schedule, written out here as the reference.
BETAS = np.linspace(1e-4, 0.02, T)
ALPHAS_CUMPROD = np.cumprod(1.0 - BETAS)
SMALL_SHAPE = (8, 8, 1)


class OracleNoise(keras.layers.Layer):
    """`eps(x_t, abar_t)` of a known data distribution, for the linear schedule."""

    def __init__(self, eps_of, **kwargs):
        super().__init__(**kwargs)
        self.eps_of = eps_of

    def call(self, inputs):
        x, t = inputs
        abar = ops.take(ops.convert_to_tensor(ALPHAS_CUMPROD, "float32"), t)
        return self.eps_of(x, ops.reshape(abar, (-1, 1, 1, 1)))


def oracle_model(eps_of, shape=SMALL_SHAPE):
    images = keras.Input(shape=shape)
    timesteps = keras.Input(shape=(), dtype="int32")
    denoiser = keras.Model(
        [images, timesteps], OracleNoise(eps_of)([images, timesteps])
    )
    return DiffusionModel(denoiser, num_timesteps=T, seed=0)


def point_oracle(x_star):
    """The exact noise when the data is the single image `x_star` (in [-1, 1])."""
    x_star = ops.convert_to_tensor(x_star[None], "float32")
    return oracle_model(
        lambda x, abar: (x - ops.sqrt(abar) * x_star) / ops.sqrt(1.0 - abar),
        x_star.shape[1:],
    )


def gaussian_oracle(mean, std):
    """The exact E[eps | x_t] when every pixel of the data is N(mean, std^2)."""
    return oracle_model(
        lambda x, abar: (
            ops.sqrt(1.0 - abar)
            * (x - ops.sqrt(abar) * mean)
            / (abar * std**2 + 1.0 - abar)
        )
    )


def tiny_denoiser(shape=SMALL_SHAPE, seed=0):
    """A small U-Net whose (zero-initialized) output layer gets random weights."""
    denoiser = build_unet_denoiser(
        shape, filters=(8, 16), time_embedding_dim=16, groups=4
    )
    layer = denoiser.get_layer("predicted_noise")
    kernel = np.random.default_rng(seed).normal(0, 0.3, layer.kernel.shape)
    layer.kernel.assign(kernel.astype("float32"))
    return denoiser


def images(n, shape=SMALL_SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, *shape)).astype("float32")


# The schedule.


def test_linear_schedule_is_ho_et_al_and_its_cumulative_product():
    schedule = NoiseSchedule(T, "linear")
    np.testing.assert_allclose(schedule.betas, BETAS, rtol=1e-12)
    product, expected = 1.0, []
    for beta in BETAS:
        product *= 1.0 - beta
        expected.append(product)
    np.testing.assert_allclose(schedule.alphas_cumprod, expected, rtol=1e-12)
    # The value quoted for this schedule: x_T keeps sqrt(4.04e-5) ~ 0.6% of x_0.
    assert schedule.alphas_cumprod[-1] == pytest.approx(4.0358e-5, rel=1e-4)
    # Other T scale the betas by 1000 / T (Nichol and Dhariwal, 2021).
    short = NoiseSchedule(100, "linear")
    np.testing.assert_allclose(short.betas, np.linspace(1e-3, 0.2, 100), rtol=1e-12)
    np.testing.assert_allclose(
        short.alphas_cumprod, np.cumprod(1 - short.betas), rtol=1e-12
    )


def test_cosine_schedule_follows_its_formula():
    schedule = NoiseSchedule(T, "cosine")
    s = 0.008
    t = np.arange(1, T + 1)
    formula = (
        np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
        / np.cos(s / (1 + s) * np.pi / 2) ** 2
    )
    # Every beta but the last (clipped from 1 to 0.999) follows the formula.
    np.testing.assert_allclose(schedule.alphas_cumprod[:-1], formula[:-1], rtol=1e-9)
    assert schedule.betas[-1] == pytest.approx(0.999)
    assert np.all(schedule.betas[:-1] < 0.999)
    np.testing.assert_allclose(
        schedule.alphas_cumprod, np.cumprod(1 - schedule.betas), rtol=1e-12
    )
    # Noise comes in more slowly than with linear betas: abar_500 0.49 vs 0.08.
    assert schedule.alphas_cumprod[T // 2] == pytest.approx(0.4923, abs=1e-3)
    assert NoiseSchedule(T).alphas_cumprod[T // 2] == pytest.approx(0.0778, abs=1e-3)


def test_q_of_x_t_given_x_0_composes_the_one_step_process():
    schedule = NoiseSchedule(T)
    x0 = np.full((T, 1, 1, 1), 0.7, "float32")
    mean, variance = schedule.q_mean_variance(x0, np.arange(T))
    # Compose the Gaussians of x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps.
    step_mean, step_variance, means, variances = 0.7, 0.0, [], []
    for beta in BETAS:
        step_mean = math.sqrt(1 - beta) * step_mean
        step_variance = (1 - beta) * step_variance + beta
        means.append(step_mean)
        variances.append(step_variance)
    np.testing.assert_allclose(np.ravel(mean), means, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(np.ravel(variance), variances, rtol=2e-5)


def test_q_sample_matches_iterating_the_one_step_process_by_monte_carlo():
    n, x0 = 100_000, 0.7
    rng = np.random.default_rng(0)
    chain, snapshots = np.full(n, x0), {}
    for t, beta in enumerate(BETAS):
        chain = np.sqrt(1 - beta) * chain + np.sqrt(beta) * rng.normal(size=n)
        snapshots[t] = chain
    schedule = NoiseSchedule(T)
    for t in (0, 99, 499, 999):
        closed = schedule.q_sample(
            np.full((n, 1, 1, 1), x0, "float32"),
            np.full(n, t),
            rng.normal(size=(n, 1, 1, 1)),
        )
        closed = np.ravel(closed)
        std = np.sqrt(1 - ALPHAS_CUMPROD[t])
        for draws in (closed, snapshots[t]):
            assert abs(
                draws.mean() - np.sqrt(ALPHAS_CUMPROD[t]) * x0
            ) < 5 * std / math.sqrt(n)
            assert draws.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))


def bayes_on_a_grid(x0, x_t, abar_s, abar_t):
    """Mean and variance of p(x_s | x_t, x_0) ∝ q(x_t | x_s) q(x_s | x_0) on a grid."""
    prior_mean, prior_std = np.sqrt(abar_s) * x0, np.sqrt(1 - abar_s)
    grid = prior_mean + prior_std * np.linspace(-12, 12, 200_001)
    alpha = abar_t / abar_s
    log_density = -((grid - prior_mean) ** 2) / (2 * prior_std**2) - (
        x_t - np.sqrt(alpha) * grid
    ) ** 2 / (2 * (1 - alpha))
    weights = np.exp(log_density - log_density.max())
    weights /= weights.sum()
    mean = np.sum(weights * grid)
    return mean, np.sum(weights * (grid - mean) ** 2)


@pytest.mark.parametrize("t, s", [(1, 0), (10, 9), (500, 499), (999, 998), (999, 979)])
def test_posterior_is_bayes_rule(t, s):
    schedule = NoiseSchedule(T)
    x0 = 0.6
    x_t = np.sqrt(ALPHAS_CUMPROD[t]) * x0 + 0.8 * np.sqrt(1 - ALPHAS_CUMPROD[t])
    expected_mean, expected_variance = bayes_on_a_grid(
        x0, x_t, ALPHAS_CUMPROD[s], ALPHAS_CUMPROD[t]
    )
    c0, ct, variance = schedule.posterior_coefficients(t, s)
    assert c0 * x0 + ct * x_t == pytest.approx(expected_mean, rel=1e-7)
    assert variance == pytest.approx(expected_variance, rel=1e-6)
    if s == t - 1:  # the tensor version, for a batch of one
        mean, var = schedule.posterior_mean_variance(
            np.full((1, 1, 1, 1), x0), np.full((1, 1, 1, 1), x_t), np.array([t])
        )
        assert float(np.ravel(mean)[0]) == pytest.approx(expected_mean, rel=1e-5)
        assert float(np.ravel(var)[0]) == pytest.approx(expected_variance, rel=1e-5)


def test_last_posterior_step_returns_x0():
    # From t = 0 to the clean image, and from any t straight to it (s = -1).
    for t in (0, 40):
        c0, ct, variance = NoiseSchedule(T).posterior_coefficients(t, -1)
        assert (c0, ct, variance) == pytest.approx((1.0, 0.0, 0.0), abs=1e-12)


# The denoiser.


def test_sinusoidal_embedding_is_the_transformer_encoding():
    t = np.array([0, 1, 7, 999])
    embedding = ops.convert_to_numpy(SinusoidalEmbedding(8)(t))
    frequencies = 10000.0 ** (-np.arange(4) / 4)
    angles = t[:, None] * frequencies
    expected = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    np.testing.assert_allclose(embedding, expected, atol=2e-4)


def test_unet_denoiser_shapes_size_and_start():
    denoiser = build_unet_denoiser((28, 28, 1))
    assert 300_000 < denoiser.count_params() < 1_000_000
    x = images(2, (28, 28, 1))
    out = ops.convert_to_numpy(denoiser([x, np.array([0, 999])]))
    assert out.shape == (2, 28, 28, 1)
    # The output layer starts at zero: the first loss is E[eps^2] = 1.
    np.testing.assert_array_equal(out, 0.0)
    resolutions = {
        layer.output.shape[1]
        for layer in denoiser.layers
        if isinstance(layer, keras.layers.Conv2D)
    }
    assert resolutions == {28, 14, 7}
    # Once trained, the prediction depends on t through the time embedding.
    noisy = tiny_denoiser()
    x = images(1)
    a, b = (ops.convert_to_numpy(noisy([x, np.array([t])])) for t in (10, 900))
    assert np.abs(a - b).max() > 1e-3


# Sampling.


@pytest.mark.parametrize(
    "method, steps, eta",
    [("ddpm", None, None), ("ddpm", 20, None), ("ddim", 50, 0.0), ("ddim", 10, 1.0)],
)
def test_samplers_return_the_single_training_image_with_the_oracle(method, steps, eta):
    x_star = 2.0 * images(1, seed=3)[0] - 1.0
    model = point_oracle(x_star)
    # Any start: standard noise, noise three times too large, all zeros.
    scales = np.reshape([1.0, 3.0, 0.0], (3, 1, 1, 1))
    start = np.random.default_rng(1).normal(size=(3, *SMALL_SHAPE)) * scales
    generated = model.sample(
        3, method=method, steps=steps, eta=eta, initial_noise=start
    )
    np.testing.assert_allclose(
        generated, np.broadcast_to((x_star + 1) / 2, generated.shape), atol=2e-5
    )


def test_ddim_with_eta_one_is_the_ddpm_chain():
    # Song et al.'s identity: sigma^2 = beta_tilde turns the DDIM step into the
    # posterior mean c0 x0_hat + ct x_t plus the same noise.
    model = DiffusionModel(tiny_denoiser(), num_timesteps=T, seed=0)
    ddpm = model.sample(3, seed=2, steps=25, clip_denoised=False)
    ddim = model.sample(
        3, seed=2, method="ddim", steps=25, eta=1.0, clip_denoised=False
    )
    np.testing.assert_allclose(ddim, ddpm, atol=1e-4)
    assert 0.05 < ddpm.std()


def test_ddpm_with_the_gaussian_oracle_samples_the_data_distribution():
    mean, std, n = 0.2, 0.2, 500
    generated = gaussian_oracle(mean, std).sample(n, seed=0, clip_denoised=False)
    pixels = 2.0 * generated.ravel() - 1.0  # 32,000 independent draws
    standard_error = std / math.sqrt(pixels.size)
    assert abs(pixels.mean() - mean) < 5 * standard_error
    # Ho et al.'s fixed variance beta_tilde is exact for a single image and too
    # small for spread data: the chain's std comes out 1.9% low for this data
    # (0.1963, propagating the linear-Gaussian chain); plus 4 standard errors.
    assert pixels.std() == pytest.approx(
        std, rel=0.019 + 4 / math.sqrt(2 * pixels.size)
    )
    assert pixels.std() < std


def test_ddim_with_the_gaussian_oracle_follows_the_probability_flow():
    mean, std = 0.2, 0.2
    model = gaussian_oracle(mean, std)
    start = np.stack([np.zeros(SMALL_SHAPE), np.ones(SMALL_SHAPE)])
    generated = 2.0 * model.sample(2, method="ddim", steps=T, initial_noise=start) - 1
    # The exact flow maps x_T ~ N(sqrt(abar_T) m, abar_T s^2 + 1 - abar_T) onto
    # N(m, s^2) linearly. Its Euler-like DDIM steps are 0.75% short in slope at
    # 1000 steps (3.2% at 200, 12% at 50: first order in the step).
    abar = ALPHAS_CUMPROD[-1]
    slope = std / math.sqrt(abar * std**2 + 1 - abar)
    offset = mean - slope * math.sqrt(abar) * mean
    np.testing.assert_allclose(generated[0], offset, atol=1e-4)
    np.testing.assert_allclose(generated[1] - generated[0], slope, rtol=0.01)


def test_ddim_invert_then_sample_regenerates_the_images():
    mean, std = 0.2, 0.2
    model = gaussian_oracle(mean, std)
    rng = np.random.default_rng(5)
    x = (1 + rng.normal(mean, std, size=(4, *SMALL_SHAPE)).clip(-1, 1)) / 2
    errors = {}
    for refinements in (0, 6):
        noise = model.ddim_invert(x, steps=50, refinements=refinements)
        again = model.sample(
            4, method="ddim", steps=50, initial_noise=noise, clip_denoised=False
        )
        errors[refinements] = np.abs(again - x).max()
    # The usual inversion evaluates the denoiser at x_s instead of the unknown
    # x_t: its round trip is off by a few hundredths. Each fixed-point iteration
    # divides that by about 7 here, down to float32 round-off.
    assert 0.005 < errors[0] < 0.1
    assert errors[6] < 1e-5


def test_sample_frames_seeds_and_batches():
    model = DiffusionModel(tiny_denoiser(), num_timesteps=50, seed=0)
    generated, frames = model.sample(3, seed=4, method="ddim", steps=10, return_every=4)
    # x_T, after steps 4 and 8, and the last (step 10).
    assert frames.shape == (4, 3, *SMALL_SHAPE)
    np.testing.assert_allclose(frames[-1], generated)
    assert generated.min() >= 0 and generated.max() <= 1
    np.testing.assert_array_equal(
        model.sample(3, seed=4, method="ddim", steps=10), generated
    )
    assert not np.array_equal(model.sample(3, method="ddim", steps=10), generated)
    # The DDPM chain is random, and repeatable with a seed, in batches too.
    first = model.sample(5, seed=1, batch_size=2)
    np.testing.assert_array_equal(model.sample(5, seed=1, batch_size=2), first)
    assert not np.array_equal(model.sample(5, seed=2, batch_size=2), first)


# Training and saving.


def test_train_and_test_steps_minimize_the_noise_mse():
    model = DiffusionModel(tiny_denoiser(), num_timesteps=100, seed=7)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    x = images(16, seed=2)
    weights = np.linspace(0.0, 2.0, 16).astype("float32")
    history = model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    weighted = model.evaluate(x, sample_weight=weights, batch_size=16, verbose=0)
    # Replay the model's draws: t, then the noise, per step, from its seed.
    generator = keras.random.SeedGenerator(7)
    abar = np.cumprod(1 - np.linspace(1e-3, 0.2, 100))  # linear, scaled to T=100
    losses = []
    for _ in range(2):
        t = ops.convert_to_numpy(keras.random.randint((16,), 0, 100, seed=generator))
        noise = ops.convert_to_numpy(keras.random.normal(x.shape, seed=generator))
        a = abar[t].reshape(-1, 1, 1, 1)
        x_t = (np.sqrt(a) * (2 * x - 1) + np.sqrt(1 - a) * noise).astype("float32")
        predicted = model.denoiser.predict([x_t, t], verbose=0)
        losses.append(np.mean((predicted - noise) ** 2, axis=(1, 2, 3)))
    assert history.history["loss"][0] == pytest.approx(losses[0].mean(), rel=1e-5)
    assert weighted == pytest.approx(np.mean(weights * losses[1]), rel=1e-5)


def test_keras_file_round_trip(tmp_path):
    model = DiffusionModel(tiny_denoiser(), num_timesteps=60, schedule="cosine", seed=3)
    model.compile(optimizer="adam")
    model.fit(images(8), batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "diffusion.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, DiffusionModel)
    assert (loaded.num_timesteps, loaded.schedule.kind, loaded.seed) == (
        60,
        "cosine",
        3,
    )
    x, t = images(4, seed=9), np.array([0, 7, 30, 59])
    np.testing.assert_array_equal(
        loaded.denoiser.predict([x, t], verbose=0),
        model.denoiser.predict([x, t], verbose=0),
    )
    np.testing.assert_allclose(
        loaded.sample(2, seed=0, method="ddim", steps=5),
        model.sample(2, seed=0, method="ddim", steps=5),
        atol=1e-6,
    )


def test_keras_ae_load_model_finds_the_classes_in_a_fresh_process(tmp_path):
    # keras_ae.load_model must import the modules that register DiffusionModel
    # and SinusoidalEmbedding: a process that never imported them loads the file.
    model = DiffusionModel(tiny_denoiser(), num_timesteps=60, seed=3)
    path = tmp_path / "diffusion.keras"
    model.save(path)
    x, t = images(2, seed=1), np.array([5, 40])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    script = (
        "import sys, numpy as np, keras_ae\n"
        "m = keras_ae.load_model(sys.argv[1])\n"
        "x, t = np.load(sys.argv[2]), np.load(sys.argv[3])\n"
        "np.save(sys.argv[4], m.denoiser.predict([x, t], verbose=0))\n"
        "print(type(m).__name__)\n"
    )
    out = tmp_path / "out.npy"
    args = [str(path), str(tmp_path / "x.npy"), str(tmp_path / "t.npy"), str(out)]
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "DiffusionModel"
    np.testing.assert_array_equal(
        np.load(out), model.denoiser.predict([x, t], verbose=0)
    )


# Argument checks.


@pytest.fixture(scope="module")
def small_model():
    return DiffusionModel(tiny_denoiser(), num_timesteps=50, seed=0)


BAD_CALLS = {
    "T=0": (lambda m: NoiseSchedule(0), "num_timesteps > 0"),
    "T=-5": (
        lambda m: DiffusionModel(m.denoiser, num_timesteps=-5),
        "num_timesteps > 0",
    ),
    "T=10 linear": (lambda m: NoiseSchedule(10), "num_timesteps > 20"),
    "schedule": (lambda m: DiffusionModel(m.denoiser, schedule="sigmoid"), "schedule"),
    "kind": (lambda m: NoiseSchedule(100, "quadratic"), "kind"),
    "steps > T": (lambda m: m.sample(2, steps=51), "steps <= num_timesteps=50"),
    "ddim steps > T": (lambda m: m.sample(2, method="ddim", steps=100), "steps <="),
    "steps=0": (lambda m: m.sample(2, method="ddim", steps=0), "steps > 0"),
    "eta < 0": (lambda m: m.sample(2, method="ddim", eta=-0.1), "eta >= 0"),
    "ddpm eta": (lambda m: m.sample(2, eta=0.5), "eta=None with method='ddpm'"),
    "method": (lambda m: m.sample(2, method="euler"), "method"),
    "num_images": (lambda m: m.sample(0), "num_images > 0"),
    "seed": (lambda m: m.sample(2, seed=1.5), "seed"),
    "noise count": (
        lambda m: m.sample(3, initial_noise=np.zeros((2, *SMALL_SHAPE))),
        "3 initial_noise",
    ),
    "invert steps": (lambda m: m.ddim_invert(images(2), steps=51), "steps <="),
    "invert range": (lambda m: m.ddim_invert(2 * images(2) - 1), "in [0.0, 1.0]"),
    "invert shape": (
        lambda m: m.ddim_invert(images(2, (4, 4, 1))),
        "shape (N, 8, 8, 1)",
    ),
    "refinements": (lambda m: m.ddim_invert(images(2), refinements=-1), "refinements"),
    "denoiser": (
        lambda m: DiffusionModel(
            keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
        ),
        "Functional denoiser",
    ),
    "groups": (lambda m: build_unet_denoiser(filters=(12, 24)), "divisible by groups"),
    "groups=0": (lambda m: build_unet_denoiser(groups=0), "groups > 0"),
    "size": (lambda m: build_unet_denoiser((30, 30, 1)), "divisible by 4"),
    "odd embedding": (lambda m: SinusoidalEmbedding(7), "even dim"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise_clear_value_errors(small_model, case):
    call, fragment = BAD_CALLS[case]
    with pytest.raises(ValueError, match="Received") as info:
        call(small_model)
    assert fragment in str(info.value)
