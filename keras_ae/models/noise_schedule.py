"""The noise schedule of a diffusion model: the forward process in closed form.

The forward process adds Gaussian noise to an image `x_0` over `T` steps,
`q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)`, so that

    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),  abar_t = prod_{i<=t} alpha_i

with `alpha_i = 1 - beta_i`, and `x_T` is almost pure noise. `NoiseSchedule`
holds the betas and these Gaussians; `keras_ae.models.diffusion.DiffusionModel`
trains and samples with it.

Example:
    >>> schedule = NoiseSchedule(1000, "cosine")
    >>> print(f"{schedule.alpha_bar(-1):.1f} {schedule.alpha_bar(499):.3f}")
    1.0 0.494
"""

import math

import numpy as np
from keras import ops

from keras_ae._validation import check_positive_int

__all__ = ["NoiseSchedule", "SCHEDULES"]

SCHEDULES = ("linear", "cosine")
# Ho et al.'s linear betas for T = 1000; other T scale them by 1000 / T, as
# Nichol and Dhariwal (2021) do, so that abar_T stays near 4e-5.
LINEAR_BETAS = (1e-4, 0.02)
# Nichol and Dhariwal's cosine schedule: offset s, betas clipped to 0.999.
COSINE_OFFSET = 0.008
MAX_BETA = 0.999


class NoiseSchedule:
    """The betas of the forward process and the Gaussians they define.

    Arrays (NumPy, float64, indexed by `t = 0, ..., T - 1`): `betas`, `alphas =
    1 - betas`, `alphas_cumprod` (`abar_t`). The methods take `x_0` in the
    model's space, [-1, 1].

    - `"linear"`: `betas` evenly spaced from `1e-4 * 1000 / T` to
      `0.02 * 1000 / T` (Ho et al.'s values for T = 1000).
    - `"cosine"`: `abar_t = f(t + 1) / f(0)`, `f(u) = cos(pi / 2 * (u / T + s)
      / (1 + s))^2` with `s = 0.008`, `betas` clipped to 0.999 (Nichol and
      Dhariwal, 2021). Noise comes in more slowly than with linear betas.

    Args:
        num_timesteps: `T`, int > 0 (> 20 for `"linear"`).
        kind: `"linear"` or `"cosine"`.

    Example:
        >>> schedule = NoiseSchedule(1000, "linear")
        >>> print(f"{schedule.alphas_cumprod[-1]:.2e}")  # x_T is nearly pure noise
        4.04e-05
    """

    def __init__(self, num_timesteps=1000, kind="linear"):
        steps = check_positive_int("num_timesteps", num_timesteps)
        if kind == "linear":
            scale = 1000.0 / steps
            if LINEAR_BETAS[1] * scale >= 1.0:
                raise ValueError(
                    "Expected num_timesteps > 20 for the linear schedule (its last "
                    "beta, 0.02 * 1000 / num_timesteps, must stay below 1). "
                    f"Received: num_timesteps={num_timesteps!r}"
                )
            betas = np.linspace(LINEAR_BETAS[0] * scale, LINEAR_BETAS[1] * scale, steps)
        elif kind == "cosine":
            u = np.arange(steps + 1) / steps
            f = np.cos((u + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
            betas = np.minimum(1.0 - f[1:] / f[:-1], MAX_BETA)
        else:
            raise ValueError(
                f"Expected kind to be one of {SCHEDULES}. Received: kind={kind!r}"
            )
        self.num_timesteps = steps
        self.kind = kind
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(self.alphas)

    def alpha_bar(self, t):
        """`abar_t` for integer `t` in `[-1, T)` (NumPy); `abar_{-1} = 1`."""
        return np.concatenate([[1.0], self.alphas_cumprod])[np.asarray(t) + 1]

    def _take(self, values, t, x):
        """`values[t]` as float32, shaped `(batch, 1, ..., 1)` to broadcast over `x`."""
        taken = ops.take(ops.convert_to_tensor(values, "float32"), t)
        return ops.reshape(taken, (-1,) + (1,) * (len(x.shape) - 1))

    def q_mean_variance(self, x0, t):
        """Mean and variance of `q(x_t | x_0)`: `sqrt(abar_t) x_0`, `1 - abar_t`.

        Args:
            x0: Tensor `(batch, ...)` of clean images in [-1, 1].
            t: Int tensor `(batch,)` of timesteps in `[0, T)`.

        Returns:
            The mean (shape of `x0`) and the variance `(batch, 1, ..., 1)`.
        """
        x0 = ops.convert_to_tensor(x0, "float32")
        mean = self._take(np.sqrt(self.alphas_cumprod), t, x0) * x0
        return mean, self._take(1.0 - self.alphas_cumprod, t, x0)

    def q_sample(self, x0, t, noise):
        """Draws `x_t ~ q(x_t | x_0)` in closed form: `sqrt(abar_t) x0 + sqrt(1 -
        abar_t) noise`.

        Args:
            x0: Tensor `(batch, ...)` of clean images in [-1, 1].
            t: Int tensor `(batch,)` of timesteps in `[0, T)`.
            noise: Tensor of the shape of `x0`, drawn from N(0, I).

        Returns:
            The noisy images `x_t`, a tensor of the shape of `x0`.
        """
        mean, variance = self.q_mean_variance(x0, t)
        return mean + ops.sqrt(variance) * ops.cast(noise, mean.dtype)

    def posterior_coefficients(self, t, s=None):
        """`q(x_s | x_t, x_0) = N(c0 x_0 + ct x_t, variance)` for `s < t`: NumPy.

        With `s = t - 1` (the default) it is the DDPM posterior, variance
        `beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t`. Skipping steps
        (`s < t - 1`) puts `abar_t / abar_s` in place of `alpha_t`: the
        posterior of the shorter chain `x_0 -> x_s -> x_t`.

        Args:
            t: Int or int array of timesteps in `[0, T)`.
            s: Earlier timesteps in `[-1, t)`; default `t - 1`.

        Returns:
            Three float64 arrays `(c0, ct, variance)`.
        """
        t = np.asarray(t)
        s = t - 1 if s is None else np.asarray(s)
        abar_t, abar_s = self.alpha_bar(t), self.alpha_bar(s)
        alpha = abar_t / abar_s  # of the step s -> t
        c0 = np.sqrt(abar_s) * (1.0 - alpha) / (1.0 - abar_t)
        ct = np.sqrt(alpha) * (1.0 - abar_s) / (1.0 - abar_t)
        variance = (1.0 - abar_s) / (1.0 - abar_t) * (1.0 - alpha)
        return c0, ct, variance

    def posterior_mean_variance(self, x0, x_t, t):
        """Mean and variance of `q(x_{t-1} | x_t, x_0)`, as `q_mean_variance`."""
        x0 = ops.convert_to_tensor(x0, "float32")
        c0, ct, variance = self.posterior_coefficients(np.arange(self.num_timesteps))
        mean = self._take(c0, t, x0) * x0 + self._take(ct, t, x0) * x_t
        return mean, self._take(variance, t, x0)

    def get_config(self):
        return {"num_timesteps": self.num_timesteps, "kind": self.kind}
