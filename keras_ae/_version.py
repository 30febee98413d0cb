"""The package's version and home, importable without Keras."""

__all__ = ["REPOSITORY_URL", "__version__"]

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/keras-ae/keras-ae"
