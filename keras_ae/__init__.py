"""keras_ae: the library behind the keras-ae course on autoencoders and GANs.

Four wings over a base, each answering one question (imports point down only):

- base: `data` (data sets, splits, corruptions), `series_data`, `devices`
  (distribution strategies, mixed precision), `plotting`, `utils` (seeding,
  run profiles, batched calls), `tables`;
- `models`: how a model is built (layers, regularizers, builders and the Keras
  models with their own training steps: denoising, contractive, VAE, GANs);
- `evaluate`: how it is measured (metrics, classical baselines, probes,
  protocols, judging samples); it never imports `train`;
- `train`: how it is trained (recipes, sweeps, the registry of model kinds,
  callbacks);
- `course`: how the course is run (runner, command line, comparison).

The names most notebooks use are importable from here, lazily:
`from keras_ae import load_dataset, fit_autoencoder, VAE`.

Importing the package changes no global setting (no environment variable, no
import hook) and imports neither Keras nor TensorFlow. The course needs
Keras's TensorFlow backend, which is Keras 3's default; code that needs it
calls `require_tensorflow_backend()`, which says what to set otherwise.
TensorFlow's C++ start-up lines are its own: set `TF_CPP_MIN_LOG_LEVEL=1`
before TensorFlow is imported to hide its informational ones (warnings and
errors still show).
"""

import importlib

from keras_ae._backend import require_tensorflow_backend
from keras_ae._version import REPOSITORY_URL, __version__

# The curated API: name -> module that defines it, imported on first use.
_API = {
    "load_dataset": "keras_ae.data",
    "corrupt": "keras_ae.data",
    "set_seed": "keras_ae.utils",
    "profile": "keras_ae.utils",
    "pick": "keras_ae.utils",
    "strategy": "keras_ae.devices",
    "load_model": "keras_ae.models.saving",
    "build_dense_autoencoder": "keras_ae.models.autoencoders",
    "build_linear_autoencoder": "keras_ae.models.autoencoders",
    "build_conv_autoencoder": "keras_ae.models.conv",
    "L1Sparsity": "keras_ae.models.regularizers",
    "KLSparsity": "keras_ae.models.regularizers",
    "DenoisingAutoencoder": "keras_ae.models.denoising",
    "ContractiveAutoencoder": "keras_ae.models.contractive",
    "VAE": "keras_ae.models.vae",
    "ConditionalVAE": "keras_ae.models.vae",
    "GAN": "keras_ae.models.gans",
    "ConditionalGAN": "keras_ae.models.gans",
    "WGANGP": "keras_ae.models.wgan",
    "DiffusionModel": "keras_ae.models.diffusion",
    "fit_autoencoder": "keras_ae.train.recipes",
    "fit_vae": "keras_ae.train.vae_recipes",
    "build_gan": "keras_ae.train.gan_recipes",
    "train_gan": "keras_ae.train.gan_recipes",
    "train_model": "keras_ae.train.registry",
    "get_classifier": "keras_ae.evaluate.classifier",
    "mse": "keras_ae.evaluate.metrics",
    "psnr": "keras_ae.evaluate.metrics",
    "ssim": "keras_ae.evaluate.metrics",
    "frechet_distance": "keras_ae.evaluate.metrics",
    "record_result": "keras_ae.course.runner",
}

__all__ = ["REPOSITORY_URL", "__version__", "require_tensorflow_backend", *_API]


def __getattr__(name):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'keras_ae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
