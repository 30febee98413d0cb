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
