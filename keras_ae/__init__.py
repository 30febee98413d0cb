"""keras_ae: the library behind the keras-ae course on autoencoders and GANs.

Each module holds one topic: `data` (data sets and corruptions), `devices`
(distribution strategies), `plotting`, `utils` (seeding and run profiles), and
the model modules the notebooks build on.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys

# Keras 3 picks its backend from this variable; the course is written for TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Quiet TensorFlow's C++ start-up chatter, which hides the course's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _file_descriptor_2_silenced():
    try:
        saved = os.dup(2)
    except OSError:  # no usable file descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlowLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _file_descriptor_2_silenced():
            self._loader.exec_module(module)
            module.config.list_physical_devices()  # the cuInit line, if any


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Silences file descriptor 2 while TensorFlow is first imported.

    TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, cuInit on a machine
    without a GPU) are written before absl logging starts, so
    TF_CPP_MIN_LOG_LEVEL cannot hide them, and in a notebook they bury the
    first cell's output. The import itself stays lazy: `keras_ae.course` and
    the command line do not pay for TensorFlow until something imports it.
    Python exceptions still propagate as usual.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once only, and find_spec below skips us
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietTensorFlowLoader(spec.loader)
        return spec


if "tensorflow" not in sys.modules and not os.environ.get("KERAS_AE_VERBOSE_TF"):
    sys.meta_path.insert(0, _QuietTensorFlowFinder())

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
