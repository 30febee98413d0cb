import io

import keras
import numpy as np
import pytest
from PIL import Image

from keras_ae.evaluate import baselines
from keras_ae.models import applications


def _smooth_images(n=6, size=16, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, size)[:, None]
    cols = np.linspace(0, 1, size)[None, :]
    images = []
    for _ in range(n):
        a, b, c = rng.uniform(0.2, 0.8, 3)
        base = 0.5 + 0.3 * np.sin(6 * a * rows + 4 * b * cols + c)
        images.append(np.repeat(base[..., None], channels, axis=-1))
    return np.clip(np.array(images, "float32"), 0, 1)


def test_quantize_round_trip_matches_closed_form():
    values = np.array([-1.0, -0.25, 0.1, 0.5, 2.0])
    levels, low, high = baselines.quantize(values, bits=2, low=-1.0, high=0.5)
    # 2 bits: levels 0..3 over [-1, 0.5], step 0.5; 2.0 is clipped to 0.5.
    np.testing.assert_array_equal(levels, [0, 2, 2, 3, 3])
    np.testing.assert_allclose(
        baselines.dequantize(levels, 2, low, high), [-1.0, 0.0, 0.0, 0.5, 0.5]
    )
    values = np.random.default_rng(0).normal(size=1000)
    levels, low, high = baselines.quantize(values, bits=8)
    assert levels.min() == 0 and levels.max() == 255
    error = np.abs(baselines.dequantize(levels, 8, low, high) - values)
    assert error.max() <= (high - low) / 255 / 2 + 1e-6


def test_quantize_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bits"):
        baselines.quantize([0.0, 1.0], bits=0)
    with pytest.raises(ValueError, match="high > low"):
        baselines.quantize([1.0, 1.0])


def test_quantized_roundtrip_of_pca_matches_numpy():
    from sklearn.decomposition import PCA

    x_train = _smooth_images(40, size=8, seed=1)
    x_test = _smooth_images(10, size=8, seed=2)
    flat_train, flat_test = x_train.reshape(40, -1), x_test.reshape(10, -1)
    pca = PCA(n_components=3).fit(flat_train)

    def encode(x):
        return pca.transform(x.reshape(len(x), -1))

    def decode(codes):
        return pca.inverse_transform(codes).reshape(x_test.shape)

    images = baselines.quantized_roundtrip(encode, decode, x_train, x_test, bits=4)
    # By hand: range of each code dimension over the training codes, 15 steps,
    # round, back, decode, clip.
    train_codes, test_codes = pca.transform(flat_train), pca.transform(flat_test)
    low, high = train_codes.min(axis=0), train_codes.max(axis=0)
    step = (high - low) / 15
    levels = np.rint((np.clip(test_codes, low, high) - low) / step)
    expected = pca.inverse_transform(low + levels * step).reshape(x_test.shape)
    np.testing.assert_allclose(images, np.clip(expected, 0, 1), atol=1e-5)
    # More bits, closer to the unquantized reconstruction.
    exact = pca.inverse_transform(test_codes).reshape(x_test.shape)
    errors = [
        np.mean(
            (
                baselines.quantized_roundtrip(encode, decode, x_train, x_test, bits)
                - np.clip(exact, 0, 1)
            )
            ** 2
        )
        for bits in (2, 4, 8)
    ]
    assert errors[0] > errors[1] > errors[2]
    with pytest.raises(ValueError, match="x_test's shape"):
        baselines.quantized_roundtrip(encode, pca.inverse_transform, x_train, x_test)


def test_quantized_roundtrip_gives_each_dimension_its_own_range():
    rng = np.random.default_rng(0)
    scales = np.array([10.0, 1.0, 0.01])  # spreads like PCA coefficients
    codes = {"train": rng.normal(size=(200, 3)) * scales}
    codes["test"] = rng.normal(size=(50, 3)) * scales
    codes["test"][:, 2] = 0.5  # a dimension constant on test, not on train
    x_train = np.zeros((200, 1), "float32")
    x_test = np.full((50, 1), 1.0, "float32")

    def encode(x):
        return codes["train"] if x[0, 0] == 0 else codes["test"]

    decoded = []
    images = baselines.quantized_roundtrip(
        encode, lambda c: decoded.append(c) or np.zeros((50, 1)), x_train, x_test, 3
    )
    np.testing.assert_array_equal(images, np.zeros((50, 1)))
    low, high = codes["train"].min(0), codes["train"].max(0)
    step = (high - low) / 7
    levels = np.rint((np.clip(codes["test"], low, high) - low) / step)
    np.testing.assert_allclose(decoded[0], low + levels * step, rtol=1e-6)
    # The smallest dimension is quantized with steps of its own size.
    error = np.abs(decoded[0] - np.clip(codes["test"], low, high))
    assert np.all(error <= step / 2 + 1e-6)
    assert error[:, 2].max() < 0.01
    # A dimension constant on the training codes decodes as that constant.
    codes["train"][:, 1] = 0.25
    decoded.clear()
    baselines.quantized_roundtrip(
        encode, lambda c: decoded.append(c) or np.zeros((50, 1)), x_train, x_test, 3
    )
    np.testing.assert_allclose(decoded[0][:, 1], 0.25)


def test_jpeg_roundtrip_matches_pillow_on_the_mosaic():
    images = _smooth_images()
    decoded, size = baselines.jpeg_roundtrip(images, quality=50)
    pixels = np.rint(images * 255).astype("uint8").reshape(-1, 16)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, format="JPEG", quality=50, optimize=True, subsampling=0
    )
    assert size == buffer.tell() / len(images)
    buffer.seek(0)
    expected = np.asarray(Image.open(buffer), "float32").reshape(images.shape) / 255
    np.testing.assert_array_equal(decoded, expected)
    # Lossy but close on smooth images.
    assert 0 < np.abs(decoded - images).mean() < 0.02


def test_jpeg_at_byte_budget_is_the_best_quality_that_fits():
    images = _smooth_images(n=8, channels=3)
    _, size_high = baselines.jpeg_roundtrip(images, 90)
    _, size_low = baselines.jpeg_roundtrip(images, 10)
    budget = (size_high + size_low) / 2
    decoded, size, quality = baselines.jpeg_at_byte_budget(images, budget)
    assert size <= budget
    assert baselines.jpeg_roundtrip(images, quality + 1)[1] > budget
    np.testing.assert_array_equal(decoded, baselines.jpeg_roundtrip(images, quality)[0])
    # A budget below quality 1 returns quality 1, over budget.
    _, size, quality = baselines.jpeg_at_byte_budget(images, 1)
    assert quality == 1 and size > 1


def test_spatial_parts_shapes_and_errors():
    encoder = applications.build_spatial_encoder((16, 16, 1), (8, 8), 4)
    assert tuple(encoder.output.shape) == (None, 4, 4, 4)
    decoder = applications.build_spatial_decoder((4, 4, 4), 3, (8, 8))
    assert tuple(decoder.output.shape) == (None, 16, 16, 3)
    with pytest.raises(ValueError, match="divisible by 4"):
        applications.build_spatial_encoder((10, 10, 1), (8, 8))


def test_untrained_colorizer_replicates_gray():
    colorizer = applications.build_colorizer((16, 16, 1), filters=(4, 4))
    pixels = colorizer.get_layer("decoder").get_layer("pixels")
    for weights in pixels.get_weights():
        np.testing.assert_array_equal(weights, np.zeros_like(weights))
    gray = _smooth_images(n=3)
    rgb = keras.ops.convert_to_numpy(colorizer(gray))
    np.testing.assert_allclose(rgb, np.repeat(gray, 3, axis=-1), atol=1e-6)
    # One training step moves the offset away from zero (the head can learn).
    colorizer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    colorizer.fit(gray, np.concatenate([gray, gray, 1 - gray], -1), verbose=0)
    rgb = keras.ops.convert_to_numpy(colorizer(gray))
    assert np.abs(rgb - np.repeat(gray, 3, axis=-1)).max() > 1e-4
    with pytest.raises(ValueError, match="one input channel"):
        applications.build_colorizer((16, 16, 3))
