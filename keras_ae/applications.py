"""Helpers for the applications notebook: image-to-image models and compression.

- `build_spatial_encoder` / `build_spatial_decoder`: fully convolutional parts
  whose code is a small feature map, for denoising, inpainting and colouring.
- `build_colorizer`: grayscale in, RGB out, as the gray image plus a learned
  colour offset.
- `quantize` / `dequantize`: store code values in `bits` bits each;
  `quantized_roundtrip` compresses images through any encoder and decoder so.
- `jpeg_roundtrip` / `jpeg_at_byte_budget`: JPEG (through Pillow) of a batch of
  images, its size in bytes per image, and the best quality that fits a budget.
"""

import io

import keras
import numpy as np

from keras_ae._checks import check_positive_int, check_shape
from keras_ae.autoencoders import conv_downsampling_stack


def _check_filters(filters):
    filters = tuple(filters)
    if not filters or any(
        isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 1
        for f in filters
    ):
        raise ValueError(
            f"Expected filters to be a non-empty tuple of ints > 0, e.g. (32, 64). "
            f"Received: filters={filters!r}"
        )
    return filters


def build_spatial_encoder(
    input_shape=(32, 32, 1),
    filters=(32, 64),
    code_channels=16,
    kernel_size=3,
    activation="relu",
    name="encoder",
):
    """Builds a fully convolutional encoder whose code is a feature map.

    Each stage is a `Conv2D` with stride 2 (halving height and width); a last
    1x1 convolution gives `code_channels` channels. The code keeps the image's
    layout, which suits tasks where every output pixel depends on its
    neighbourhood (denoising, inpainting, colouring).

    Args:
        input_shape: `(height, width, channels)`, height and width divisible by
            `2 ** len(filters)`.
        filters: Number of filters of each strided stage.
        code_channels: Channels of the code map, > 0.
        kernel_size: Size of the square kernels.
        activation: Activation of the strided stages.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images to codes of shape
        `(height / 2**k, width / 2**k, code_channels)`, `k = len(filters)`.

    Example:
        >>> encoder = build_spatial_encoder((32, 32, 1), filters=(32, 64))
        >>> encoder.output.shape
        (None, 8, 8, 16)
    """
    input_shape = check_shape("input_shape", input_shape, rank=3)
    filters = _check_filters(filters)
    code_channels = check_positive_int("code_channels", code_channels)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    factor = 2 ** len(filters)
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"Expected height and width divisible by {factor}. "
            f"Received: input_shape={input_shape}"
        )
    inputs = keras.Input(shape=input_shape)
    x = conv_downsampling_stack(
        inputs, filters=filters, kernel_size=kernel_size, activation=activation
    )
    code = keras.layers.Conv2D(code_channels, 1, name="code")(x)
    return keras.Model(inputs, code, name=name)


def build_spatial_decoder(
    code_shape=(8, 8, 16),
    output_channels=1,
    filters=(64, 32),
    kernel_size=3,
    activation="relu",
    output_activation="sigmoid",
    name="decoder",
):
    """Builds the mirror of `build_spatial_encoder`: transposed convolutions.

    Args:
        code_shape: `(height, width, channels)` of the code map.
        output_channels: Channels of the output image.
        filters: Filters of each `Conv2DTranspose` stage (stride 2).
        kernel_size: Size of the square kernels.
        activation: Activation of the stages.
        output_activation: Activation of the last 3x3 convolution
            (`"sigmoid"` for pixels in [0, 1], None for a linear output).
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping codes to images of
        `2 ** len(filters)` times the code's height and width.

    Example:
        >>> decoder = build_spatial_decoder((8, 8, 16), output_channels=3)
        >>> decoder.output.shape
        (None, 32, 32, 3)
    """
    code_shape = check_shape("code_shape", code_shape, rank=3)
    output_channels = check_positive_int("output_channels", output_channels)
    filters = _check_filters(filters)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    inputs = keras.Input(shape=code_shape)
    x = inputs
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2DTranspose(
            num_filters,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"deconv_{i}",
        )(x)
    outputs = keras.layers.Conv2D(
        output_channels,
        kernel_size,
        padding="same",
        activation=output_activation,
        name="pixels",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def build_colorizer(
    input_shape=(32, 32, 1), filters=(32, 64), code_channels=32, name="colorizer"
):
    """Builds a gray -> RGB model: the gray image, replicated, plus a colour offset.

    The encoder and decoder (`build_spatial_encoder`, `build_spatial_decoder`
    with a linear output) predict an offset per pixel and channel, which is added
    to the gray channel copied three times. With a zero offset the model is the
    baseline "replicate the gray channel", so it only has to learn the colour.

    Args:
        input_shape: `(height, width, 1)`.
        filters: Filters of the encoder's stages (the decoder mirrors them).
        code_channels: Channels of the code map.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` `(N, H, W, 1) -> (N, H, W, 3)`.

    Example:
        >>> colorizer = build_colorizer((32, 32, 1))
        >>> colorizer.compile(optimizer="adam", loss="mse")
        >>> colorizer.fit(gray_train, rgb_train, epochs=20)
    """
    input_shape = check_shape("input_shape", input_shape, rank=3)
    if input_shape[-1] != 1:
        raise ValueError(
            f"Expected one input channel. Received: input_shape={input_shape}"
        )
    encoder = build_spatial_encoder(input_shape, filters, code_channels)
    decoder = build_spatial_decoder(
        encoder.output.shape[1:],
        output_channels=3,
        filters=tuple(reversed(tuple(filters))),
        output_activation=None,
    )
    gray = keras.Input(shape=input_shape)
    replicated = keras.layers.Concatenate(name="replicate")([gray, gray, gray])
    offset = decoder(encoder(gray))
    rgb = keras.layers.Add(name="gray_plus_offset")([replicated, offset])
    return keras.Model(gray, rgb, name=name)


def quantize(values, bits=8, low=None, high=None):
    """Uniform quantization of `values` to integers in `[0, 2**bits - 1]`.

    Args:
        values: Array of floats.
        bits: Bits per value, 1 to 16.
        low: Value mapped to 0 (default: the minimum of `values`).
        high: Value mapped to `2**bits - 1` (default: the maximum). Values
            outside `[low, high]` are clipped.

    Returns:
        `(levels, low, high)`: the integer levels (uint16 array) and the range,
        for `dequantize`.

    Example:
        >>> levels, low, high = quantize(codes_train, bits=8)
        >>> levels, _, _ = quantize(codes_test, 8, low, high)
        >>> approx = dequantize(levels, 8, low, high)
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"Expected an int 1 <= bits <= 16. Received: bits={bits!r}")
    if not 1 <= bits <= 16:
        raise ValueError(f"Expected an int 1 <= bits <= 16. Received: bits={bits!r}")
    values = np.asarray(values, dtype="float64")
    low = float(values.min()) if low is None else float(low)
    high = float(values.max()) if high is None else float(high)
    if not high > low:
        raise ValueError(f"Expected high > low. Received: low={low}, high={high}")
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

    The codes of `x_test` are quantized (`quantize`) with the range of the
    training codes, the two numbers a receiver needs once rather than per image;
    test codes outside it are clipped. The decoded images are clipped to [0, 1].

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
        >>> encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
        >>> images = quantized_roundtrip(encoder.predict, decoder.predict,
        ...                              x_train, x_test, bits=8)
    """
    x_test = np.asarray(x_test, dtype="float32")
    _, low, high = quantize(np.asarray(encode(x_train)), bits)
    levels, _, _ = quantize(np.asarray(encode(x_test)), bits, low, high)
    images = np.asarray(decode(dequantize(levels, bits, low, high)), dtype="float32")
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
        >>> decoded, size = jpeg_roundtrip(x_test, quality=50)
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
        >>> decoded, size, quality = jpeg_at_byte_budget(x_test, 32)
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
