"""Classical compression baselines: uniform quantization of codes and JPEG at a byte
budget.
"""

import io

import numpy as np

__all__ = [
    "quantize",
    "dequantize",
    "quantized_roundtrip",
    "jpeg_roundtrip",
    "jpeg_at_byte_budget",
]


def quantize(values, bits=8, low=None, high=None):
    """Uniform quantization of `values` to integers in `[0, 2**bits - 1]`.

    Args:
        values: Array of floats.
        bits: Bits per value, 1 to 16.
        low: Value mapped to 0 (default: the minimum of `values`). A scalar, or
            an array that broadcasts against `values` (one range per dimension).
        high: Value mapped to `2**bits - 1` (default: the maximum), a scalar or
            an array like `low`. Values outside `[low, high]` are clipped.

    Returns:
        `(levels, low, high)`: the integer levels (uint16 array) and the range,
        for `dequantize`.

    Example:
        >>> levels, low, high = quantize(np.array([0.0, 0.5, 1.0, 2.0]), bits=2)
        >>> levels, low, high
        (array([0, 1, 2, 3], dtype=uint16), 0.0, 2.0)
        >>> dequantize(levels, 2, low, high)  # steps of (2 - 0) / 3
        array([0.       , 0.6666667, 1.3333334, 2.       ], dtype=float32)
        >>> quantize([-1.0, 3.0], 2, low, high)[0]  # new values: the same range
        array([0, 3], dtype=uint16)
        >>> quantize([[0.0, 0.0], [1.0, 0.1]], 1, [0.0, 0.0], [1.0, 0.1])[0]
        array([[0, 0],
               [1, 1]], dtype=uint16)
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"Expected an int 1 <= bits <= 16. Received: bits={bits!r}")
    if not 1 <= bits <= 16:
        raise ValueError(f"Expected an int 1 <= bits <= 16. Received: bits={bits!r}")
    values = np.asarray(values, dtype="float64")
    low = values.min() if low is None else low
    high = values.max() if high is None else high
    low, high = np.asarray(low, "float64"), np.asarray(high, "float64")
    if not np.all(high > low):
        raise ValueError(f"Expected high > low. Received: low={low}, high={high}")
    low = float(low) if low.ndim == 0 else low
    high = float(high) if high.ndim == 0 else high
    steps = 2**bits - 1
    scaled = (np.clip(values, low, high) - low) / (high - low) * steps
    return np.rint(scaled).astype("uint16"), low, high


def dequantize(levels, bits, low, high):
    """Maps the levels of `quantize` back to values (float32).

    Args:
        levels: Integer levels from `quantize`.
        bits: The bits given to `quantize`.
        low: The `low` returned by `quantize`.
        high: The `high` returned by `quantize`.

    Returns:
        A float32 array, `low + levels * (high - low) / (2**bits - 1)`.
    """
    steps = 2**bits - 1
    return (low + np.asarray(levels, "float64") * (high - low) / steps).astype(
        "float32"
    )


def quantized_roundtrip(encode, decode, x_train, x_test, bits=8):
    """Compresses images to codes of `bits` bits per value, and decodes them.

    Each code dimension (each position of a code of shape `(N, ...)`) gets its
    own range, the minimum and maximum of that dimension over the training
    codes, and the codes of `x_test` are quantized (`quantize`) with it; test
    codes outside it are clipped. One range for all dimensions would give
    components of small spread (late PCA coefficients, quiet code units) only a
    few of the `2**bits` levels. The `2 x code_size` range numbers are stored
    once with the decoder, not per image, so they add nothing to the bytes per
    image. A dimension constant on the training codes is decoded as that constant.
    The decoded images are clipped to [0, 1].

    Args:
        encode: Function from images `(N, ...)` to codes `(N, ...)`, e.g. an
            encoder's `predict` or `lambda x: pca.transform(x.reshape(len(x), -1))`.
        decode: Function from codes back to images of `x_test`'s shape.
        x_train: Training images, for the range of the codes.
        x_test: Images to compress.
        bits: Bits per stored code value, 1 to 16.

    Returns:
        The reconstructions of `x_test` from the quantized codes, float32 in
        [0, 1], shape of `x_test`.

    Example:
        >>> from sklearn.decomposition import PCA
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), _, (x_test, _), _ = load_dataset("digits")
        >>> pca = PCA(16).fit(x_train.reshape(len(x_train), -1))  # an encoder
        >>> images = quantized_roundtrip(
        ...     lambda x: pca.transform(x.reshape(len(x), -1)),
        ...     lambda codes: pca.inverse_transform(codes).reshape(-1, 8, 8, 1),
        ...     x_train, x_test, bits=4)
        >>> images.shape, images.dtype
        ((450, 8, 8, 1), dtype('float32'))
        >>> exact = np.clip(pca.inverse_transform(
        ...     pca.transform(x_test.reshape(len(x_test), -1))), 0, 1)
        >>> error = np.mean((images.reshape(len(x_test), -1) - exact) ** 2)
        >>> bool(error < 1e-3)  # 16 levels per coefficient, each its own range
        True
    """
    x_test = np.asarray(x_test, dtype="float32")
    train_codes = np.asarray(encode(x_train), dtype="float64")
    low, high = train_codes.min(axis=0), train_codes.max(axis=0)
    constant = high == low  # decoded as that constant, with no level to spend
    high = np.where(constant, low + 1.0, high)
    levels, _, _ = quantize(np.asarray(encode(x_test)), bits, low, high)
    codes = np.where(constant, low, dequantize(levels, bits, low, high))
    images = np.asarray(decode(codes.astype("float32")), dtype="float32")
    if images.shape != x_test.shape:
        raise ValueError(
            "Expected decode to return images of x_test's shape "
            f"{x_test.shape}. Received: shape {images.shape}"
        )
    return np.clip(images, 0.0, 1.0)


def _to_uint8_mosaic(images):
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected images of shape (N, H, W, 1 or 3). "
            f"Received: shape={images.shape}"
        )
    pixels = np.rint(np.clip(images, 0.0, 1.0) * 255).astype("uint8")
    # One image per row of the mosaic: JPEG's 8x8 blocks never straddle two
    # images whose sides are multiples of 8, and the header is paid once.
    return pixels.reshape(-1, *pixels.shape[2:])


def jpeg_roundtrip(images, quality=75):
    """Compresses a batch of images as JPEG and decodes it again.

    The images are stacked into one tall picture and saved once with Pillow
    (`optimize=True`, no chroma subsampling for colour), so the file header and
    Huffman tables are shared and the bytes per image are the file size divided
    by the number of images. Pixels are rounded to 8 bits first.

    Args:
        images: Images `(N, H, W, 1 or 3)` in [0, 1]; H and W multiples of 8 make
            every 8x8 JPEG block fall inside one image.
        quality: Pillow's JPEG quality, 1 to 95.

    Returns:
        `(decoded, bytes_per_image)`: the decoded images (float32 in [0, 1],
        same shape) and the file size in bytes divided by N.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> _, _, (x_test, _), _ = load_dataset("digits")
        >>> decoded, size = jpeg_roundtrip(x_test[:100], quality=50)
        >>> decoded.shape, size < 64  # fewer bytes than the 8 x 8 pixels
        ((100, 8, 8, 1), True)
    """
    from PIL import Image

    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise ValueError(f"Expected an int 1 <= quality <= 95. Received: {quality!r}")
    if not 1 <= quality <= 95:
        raise ValueError(f"Expected an int 1 <= quality <= 95. Received: {quality!r}")
    images = np.asarray(images)
    mosaic = _to_uint8_mosaic(images)
    picture = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
    buffer = io.BytesIO()
    picture.save(
        buffer, format="JPEG", quality=int(quality), optimize=True, subsampling=0
    )
    size = buffer.tell()
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer), dtype="float32") / 255.0
    decoded = decoded.reshape(images.shape)
    return decoded, size / len(images)


def jpeg_at_byte_budget(images, bytes_per_image):
    """The highest JPEG quality whose size fits a budget of bytes per image.

    Searches `quality` 1 to 95 by bisection (the size grows with the quality).

    Args:
        images: Images `(N, H, W, 1 or 3)` in [0, 1].
        bytes_per_image: The budget, > 0.

    Returns:
        `(decoded, bytes_per_image, quality)` of the best quality that fits, or
        of quality 1 if even that is over budget (check the returned size).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> _, _, (x_test, _), _ = load_dataset("digits")
        >>> decoded, size, quality = jpeg_at_byte_budget(x_test[:100], 32)
        >>> size <= 32 < jpeg_roundtrip(x_test[:100], quality + 1)[1]
        True
    """
    if not bytes_per_image > 0:
        raise ValueError(
            f"Expected bytes_per_image > 0. Received: bytes_per_image={bytes_per_image}"
        )
    low, high = 1, 95
    best = None
    while low <= high:
        middle = (low + high) // 2
        decoded, size = jpeg_roundtrip(images, middle)
        if size <= bytes_per_image:
            best = (decoded, size, middle)
            low = middle + 1
        else:
            high = middle - 1
    if best is None:
        decoded, size = jpeg_roundtrip(images, 1)
        best = (decoded, size, 1)
    return best
