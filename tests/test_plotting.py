"""Tests for keras_ae.plotting: the numbers drawn are the numbers given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from keras_ae import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _image_data(axis):
    (image,) = axis.get_images()
    return np.asarray(image.get_array())


def test_image_grid_draws_every_image_in_order():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(13, 8, 8, 1)).astype("float32")
    fig = plotting.image_grid(images, num_columns=5, titles=[str(i) for i in range(13)])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 13  # 3 rows of 5, the two unused cells removed
    for index, axis in enumerate(fig.axes):
        np.testing.assert_array_equal(_image_data(axis), images[index, :, :, 0])
        assert axis.get_title() == str(index)
    # Row-major layout: image 5 starts the second row, under image 0.
    first, sixth = fig.axes[0].get_position(), fig.axes[5].get_position()
    assert sixth.x0 == pytest.approx(first.x0) and sixth.y0 < first.y0


def test_image_grid_clips_for_display_and_keeps_rgb():
    images = np.array([[[[-0.5, 0.2, 1.7]]], [[[0.0, 0.5, 1.0]]]], dtype="float32")
    fig = plotting.image_grid(images, title="rgb")
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(
        _image_data(fig.axes[0]), np.array([[[0.0, 0.2, 1.0]]], dtype="float32")
    )
    np.testing.assert_array_equal(_image_data(fig.axes[1]), images[1])
    assert fig._suptitle.get_text() == "rgb"
    assert images[0, 0, 0, 0] == -0.5  # the caller's data is not modified


def test_image_grid_takes_three_dimensional_input():
    images = np.linspace(0, 1, 2 * 4 * 4).reshape(2, 4, 4)
    fig = plotting.image_grid(images)
    np.testing.assert_allclose(_image_data(fig.axes[1]), images[1], rtol=1e-6)


@pytest.mark.parametrize(
    "shape, message",
    [((8, 8), "Received: images.shape=(8, 8)"), ((2, 8, 8, 2), "(2, 8, 8, 2)")],
)
def test_image_grid_rejects_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=r"Expected images of shape") as error:
        plotting.image_grid(np.zeros(shape))
    assert message in str(error.value)


def test_image_grid_rejects_wrong_number_of_titles():
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        plotting.image_grid(np.zeros((3, 4, 4)), titles=["a", "b"])


def test_plot_rows_aligns_columns_and_labels_rows():
    rng = np.random.default_rng(1)
    rows = {
        "clean": rng.uniform(size=(12, 6, 6, 1)),
        "noisy": rng.uniform(size=(12, 6, 6, 1)),
        "denoised": rng.uniform(size=(12, 6, 6, 1)),
    }
    fig = plotting.plot_rows(rows, num_images=4)
    assert len(fig.axes) == 3 * 4
    for row, (label, images) in enumerate(rows.items()):
        assert fig.axes[row * 4].get_ylabel() == label
        for column in range(4):
            np.testing.assert_allclose(
                _image_data(fig.axes[row * 4 + column]),
                images[column, :, :, 0],
                rtol=1e-6,
            )


def test_plot_rows_shows_at_most_the_shortest_row():
    rows = {"a": np.zeros((3, 4, 4)), "b": np.ones((5, 4, 4))}
    assert len(plotting.plot_rows(rows, num_images=10).axes) == 2 * 3


def test_plot_reconstructions_puts_originals_above_reconstructions():
    originals = np.random.default_rng(2).uniform(size=(10, 5, 5, 1))
    reconstructions = 1.0 - originals
    fig = plotting.plot_reconstructions(originals, reconstructions, num_images=3)
    assert len(fig.axes) == 6
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == [
        "original",
        "reconstruction",
    ]
    np.testing.assert_allclose(_image_data(fig.axes[2]), originals[2, ..., 0], 1e-6)
    np.testing.assert_allclose(
        _image_data(fig.axes[5]), reconstructions[2, ..., 0], rtol=1e-6
    )


def test_plot_reconstructions_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"reconstructions.shape=\(4, 5, 5\)"):
        plotting.plot_reconstructions(np.zeros((4, 6, 6)), np.zeros((4, 5, 5)))


def test_latent_scatter_offsets_are_the_codes_and_colours_follow_labels():
    rng = np.random.default_rng(3)
    codes = rng.normal(size=(60, 2)).astype("float32")
    labels = np.repeat([0, 2, 5], 20)
    names = [f"class {i}" for i in range(6)]
    fig = plotting.plot_latent_scatter(codes, labels, class_names=names, title="t")
    axis = fig.axes[0]
    (points,) = axis.collections
    np.testing.assert_array_equal(points.get_offsets(), codes)
    fig.canvas.draw()  # colours are computed from the labels at draw time
    colours = points.get_facecolors()
    # Same label, same colour; different labels, different colours.
    assert np.all(colours[:20] == colours[0]) and np.all(colours[40:] == colours[40])
    assert not np.allclose(colours[0], colours[20])
    legend = axis.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "class 0",
        "class 2",
        "class 5",
    ]
    # Each legend marker has the colour of its points.
    for handle, index in zip(legend.legend_handles, (0, 20, 40), strict=True):
        np.testing.assert_allclose(
            matplotlib.colors.to_rgba(handle.get_color()), colours[index]
        )


def test_latent_scatter_uses_a_colorbar_for_continuous_values():
    codes = np.random.default_rng(4).normal(size=(30, 2))
    fig = plotting.plot_latent_scatter(codes, np.linspace(0.0, 1.0, 30))
    assert len(fig.axes) == 2  # the scatter and its colorbar
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), codes, 1e-6)


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 2, 1)])
def test_latent_scatter_rejects_codes_that_are_not_two_dimensional(shape):
    with pytest.raises(ValueError, match=r"Expected codes of shape \(N, 2\)"):
        plotting.plot_latent_scatter(np.zeros(shape), np.zeros(10, dtype=int))


def test_latent_scatter_rejects_labels_outside_class_names():
    with pytest.raises(ValueError, match="max label 3 with 3 class names"):
        plotting.plot_latent_scatter(
            np.zeros((4, 2)), np.arange(4), class_names=["a", "b", "c"]
        )


def test_plot_history_draws_the_exact_values_logged():
    logs = {
        "loss": [0.9, 0.5, 0.3],
        "mae": [0.4, 0.3, 0.2],
        "val_loss": [1.0, 0.6, 0.45],
    }

    class FakeHistory:  # the attribute that keras.callbacks.History exposes
        history = logs

    fig = plotting.plot_history(FakeHistory(), log_scale=True)
    loss_axis, mae_axis = fig.axes
    training, validation = loss_axis.get_lines()
    np.testing.assert_array_equal(training.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(training.get_ydata(), logs["loss"])
    np.testing.assert_array_equal(validation.get_ydata(), logs["val_loss"])
    assert loss_axis.get_yscale() == "log" and loss_axis.get_title() == "loss"
    (mae_line,) = mae_axis.get_lines()
    np.testing.assert_array_equal(mae_line.get_ydata(), logs["mae"])


def test_plot_history_from_a_real_keras_fit():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(5).normal(size=(16, 3)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=3, verbose=0)
    fig = plotting.plot_history(history, metrics="loss")
    np.testing.assert_array_equal(
        fig.axes[0].get_lines()[0].get_ydata(), history.history["loss"]
    )


def test_plot_history_rejects_unknown_metrics():
    with pytest.raises(ValueError, match=r"Expected metrics among \['loss'\]"):
        plotting.plot_history({"loss": [1.0]}, metrics=["accuracy"])


def _normalized(image):
    """NumPy reference: scales one image to [0, 1] by its own min and max."""
    image = np.asarray(image, dtype="float64")
    return (image - image.min()) / (image.max() - image.min())


def test_plot_filters_conv_kernel_averages_input_channels():
    rng = np.random.default_rng(6)
    kernel = rng.normal(size=(3, 5, 2, 7))  # kh, kw, in_channels, filters
    fig = plotting.plot_filters(kernel, num_columns=4, title="conv_1")
    assert len(fig.axes) == 7
    for index, axis in enumerate(fig.axes):
        expected = _normalized(kernel[:, :, :, index].mean(axis=-1))
        np.testing.assert_allclose(_image_data(axis), expected, atol=1e-6)
        assert axis.get_title() == str(index)
    assert fig._suptitle.get_text() == "conv_1"
    # Each image spans [0, 1] exactly: min -> black, max -> white.
    assert _image_data(fig.axes[3]).min() == 0.0
    assert _image_data(fig.axes[3]).max() == pytest.approx(1.0)


def test_plot_filters_conv_kernel_with_three_input_channels_is_rgb():
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(4, 4, 3, 5))
    fig = plotting.plot_filters(kernel, num_filters=3)
    assert len(fig.axes) == 3
    for index, axis in enumerate(fig.axes):
        # One min/max per filter over all three colours, so hues are kept.
        expected = _normalized(kernel[:, :, :, index])
        assert _image_data(axis).shape == (4, 4, 3)
        np.testing.assert_allclose(_image_data(axis), expected, atol=1e-6)


def test_plot_filters_dense_kernel_reshapes_each_unit_to_an_image():
    rng = np.random.default_rng(8)
    kernel = rng.normal(size=(6 * 4, 10))  # input_dim = 6 x 4 pixels, 10 units
    fig = plotting.plot_filters(kernel, image_shape=(6, 4, 1), num_filters=9)
    assert len(fig.axes) == 9
    for unit, axis in enumerate(fig.axes):
        expected = _normalized(kernel[:, unit].reshape(6, 4))
        np.testing.assert_allclose(_image_data(axis), expected, atol=1e-6)
    # The reshape is row-major, as Flatten lays out the pixels: weight k of a
    # unit belongs to pixel (k // 4, k % 4).
    kernel = np.zeros((24, 1))
    kernel[9, 0] = 1.0
    image = _image_data(plotting.plot_filters(kernel, image_shape=(6, 4)).axes[0])
    assert image[2, 1] == 1.0 and image.sum() == 1.0


def test_plot_filters_dense_kernel_defaults_to_a_square_image():
    kernel = np.random.default_rng(9).normal(size=(64, 3))
    fig = plotting.plot_filters(kernel)
    np.testing.assert_allclose(
        _image_data(fig.axes[2]), _normalized(kernel[:, 2].reshape(8, 8)), atol=1e-6
    )


def test_plot_filters_draws_a_constant_filter_mid_gray():
    kernel = np.ones((3, 3, 1, 2))
    kernel[..., 1] = np.arange(9.0).reshape(3, 3, 1)
    fig = plotting.plot_filters(kernel)
    np.testing.assert_array_equal(_image_data(fig.axes[0]), np.full((3, 3), 0.5))
    np.testing.assert_allclose(
        _image_data(fig.axes[1]), np.arange(9.0).reshape(3, 3) / 8.0, atol=1e-7
    )


def test_plot_filters_reads_a_keras_layer_kernel():
    import keras

    keras.utils.set_random_seed(0)
    layer = keras.layers.Conv2D(4, 3)
    layer.build((None, 8, 8, 1))
    fig = plotting.plot_filters(layer.kernel)
    kernel = layer.get_weights()[0]
    for index, axis in enumerate(fig.axes):
        expected = _normalized(kernel[:, :, 0, index])
        np.testing.assert_allclose(_image_data(axis), expected, atol=1e-6)


@pytest.mark.parametrize(
    "weights, kwargs, message",
    [
        (np.zeros((3, 3, 4)), {}, r"Received: weights.shape=\(3, 3, 4\)"),
        (np.zeros((10, 4)), {}, r"image_shape=None for weights.shape=\(10, 4\)"),
        (np.zeros((64, 4)), {"image_shape": (7, 9)}, r"= 64 .*image_shape=\(7, 9\)"),
        (np.zeros((48, 4)), {"image_shape": (4, 6, 2)}, r"image_shape=\(4, 6, 2\)"),
        (np.zeros((64, 4)), {"image_shape": 64}, "Received: image_shape=64"),
        (np.zeros((3, 3, 1, 4)), {"image_shape": (3, 3)}, "Expected image_shape=None"),
        (np.zeros((3, 3, 1, 4)), {"num_filters": 5}, "between 1 and 4"),
        (np.zeros((3, 3, 1, 4)), {"num_filters": 0}, "num_filters=0"),
    ],
)
def test_plot_filters_rejects_bad_arguments(weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_filters(weights, **kwargs)


def test_series_scores_draws_series_score_threshold_and_anomalies():
    values = np.sin(np.arange(40) / 3.0)
    scores = np.r_[np.full(5, np.nan), np.linspace(0, 1, 35)]
    labels = np.zeros(40, int)
    labels[30:34] = 1
    fig = plotting.plot_series_scores(
        values, scores, threshold=0.8, labels=labels, start=100
    )
    top, bottom = fig.axes
    x, y = top.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(100, 140))
    np.testing.assert_allclose(y, values)
    np.testing.assert_allclose(bottom.lines[0].get_ydata(), scores)
    assert bottom.lines[1].get_ydata()[0] == 0.8  # the threshold line
    flagged_x, _ = top.lines[1].get_data()
    np.testing.assert_array_equal(flagged_x, 100 + np.flatnonzero(scores > 0.8))
    (band,) = top.patches  # one shaded run, steps 130-133
    if hasattr(band, "get_width"):  # a Rectangle (newer Matplotlib)
        left, right = band.get_x(), band.get_x() + band.get_width()
    else:  # a Polygon
        left, right = band.get_xy()[:, 0].min(), band.get_xy()[:, 0].max()
    assert (left, right) == (129.5, 133.5)
    marked = plotting.plot_series_scores(values, scores, marks={"test": 120}, start=100)
    for axis in marked.axes:
        assert [line.get_xdata()[0] for line in axis.lines[1:]] == [120]
    assert marked.axes[0].texts[0].get_text() == "test"
    with pytest.raises(ValueError, match="scores \\(T,\\)"):
        plotting.plot_series_scores(values, scores[:-1])


def test_series_grid_rows_and_panels():
    rows = {"real": np.arange(30.0).reshape(3, 10), "fake": -np.ones((5, 10, 1))}
    fig = plotting.plot_series_grid(rows, num_series=4)
    assert len(fig.axes) == 2 * 3  # at most the shortest set's 3 series
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), np.arange(10.0, 20.0))
    np.testing.assert_allclose(fig.axes[3].lines[0].get_ydata(), -1.0)
    assert fig.axes[0].get_ylabel() == "real" and fig.axes[3].get_ylabel() == "fake"
    assert fig.axes[0].get_ylim() == (-1.0, 29.0)
