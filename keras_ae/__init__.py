"""keras_ae: the library behind the keras-ae course on autoencoders and GANs.

Each module holds one topic: `data` (data sets and corruptions), `devices`
(distribution strategies), `plotting`, `utils` (seeding and run profiles), and
the model modules the notebooks build on.
"""

import os
import sys

# Keras 3 picks its backend from this variable; the course is written for TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Quiet TensorFlow's C++ start-up chatter, which hides the course's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly():
    """Imports TensorFlow and lists its devices with file descriptor 2 silenced.

    TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, cuInit on a machine
    without a GPU) are written before absl logging starts, so
    TF_CPP_MIN_LOG_LEVEL cannot hide them, and in a notebook they bury the
    first cell's output. Python exceptions still propagate as usual.
    """
    if "tensorflow" in sys.modules or os.environ.get("KERAS_AE_VERBOSE_TF"):
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable file descriptor 2 (some embedded interpreters)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/keras-ae/keras-ae"

# Modules whose import registers custom layers, regularizers and models with Keras.
_SERIALIZABLE_MODULES = ("layers", "regularizers", "training", "gans", "vae")


def load_model(path, **kwargs):
    """Loads a `.keras` file saved from any keras_ae model, with `safe_mode=True`.

    Keras finds custom classes only once their module is imported; this imports
    every keras_ae module that registers one, then calls
    `keras.saving.load_model`.
    """
    import importlib

    import keras

    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(f"keras_ae.{module}")
    kwargs.setdefault("safe_mode", True)
    return keras.saving.load_model(path, **kwargs)
