"""Custom layers shared by the course's models.

`DenseTranspose` ties a decoder layer to an encoder `Dense` layer: it reuses the
encoder's kernel, transposed, so the two layers train one set of weights.
`TiedDense` is the `Dense` layer to tie to when the model must be saved.
"""

import uuid

import keras
from keras import ops

from keras_ae._validation import check_seed as _check_seed
from keras_ae.devices import replica_seed

__all__ = [
    "TiedDense",
    "DenseTranspose",
]


_TIE_KEY_PREFIX = "keras_ae.TiedDense/"


# Marks the inner config that `TiedDense.from_config` hands back to Keras, so
# that the second call builds the layer instead of recursing. Never saved.
_CONSTRUCT_KEY = "__keras_ae_construct__"


@keras.saving.register_keras_serializable(package="keras_ae")
class TiedDense(keras.layers.Dense):
    """`Dense` layer that other layers can tie to and still be saved and loaded.

    It is a plain `keras.layers.Dense` plus a `tie_id`, a string that names the
    layer for good (it is saved in the config and kept by `load_model`). Why it
    is needed: while saving, Keras marks an object met twice with a
    `shared_object_id` so that loading rebuilds it once, but a nested Functional
    model's `get_config` returns a deep copy, so the mark never reaches the copy
    of the layer inside the encoder's config. A plain `Dense` layer used by the
    encoder and by a `DenseTranspose` in the decoder therefore loads as two
    layers with two kernels, or fails to load (checked with Keras 3.15; the same
    limitation as Keras issue #10898). `TiedDense.from_config` therefore marks
    its own config with a `shared_object_id` made from the `tie_id` and hands
    it to the public `keras.saving.deserialize_keras_object`, which, inside
    the object-sharing scope that `keras.saving.load_model` opens, records the
    first layer under that id and returns it whenever the same id is met
    again, so every reference resolves to one layer.

    Args:
        units: Positive integer, dimension of the output.
        tie_id: String identifying the layer across saving and loading. Leave it
            `None` (a random one is drawn); `from_config` passes the saved one.
        **kwargs: Any other `keras.layers.Dense` argument (`activation`, ...).

    Example:

    >>> dense = TiedDense(3, activation="relu")
    >>> codes = dense(ops.ones((2, 5)))
    >>> DenseTranspose(tied_to=dense)(codes).shape  # back to 5 with dense.kernel.T
    TensorShape([2, 5])
    >>> TiedDense.from_config(dense.get_config()).tie_id == dense.tie_id
    True
    """

    def __init__(self, units, tie_id=None, **kwargs):
        super().__init__(units, **kwargs)
        self.tie_id = str(tie_id) if tie_id is not None else uuid.uuid4().hex

    def get_config(self):
        base = super().get_config()
        return {**base, "tie_id": self.tie_id}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.pop(_CONSTRUCT_KEY, False) or config.get("tie_id") is None:
            return super().from_config(config)
        # Keras returns the layer already loaded under this id, or calls
        # from_config again (marked, so it builds the layer) and records the
        # result under the id. Outside a sharing scope (e.g. `clone_model`) it
        # records nothing: each call builds a new layer.
        return keras.saving.deserialize_keras_object(
            {
                "module": cls.__module__,
                "class_name": cls.__name__,
                "registered_name": keras.saving.get_registered_name(cls),
                "config": {**config, _CONSTRUCT_KEY: True},
                "shared_object_id": _TIE_KEY_PREFIX + str(config["tie_id"]),
            },
            custom_objects={keras.saving.get_registered_name(cls): cls},
        )


@keras.saving.register_keras_serializable(package="keras_ae")
class DenseTranspose(keras.layers.Layer):
    """Dense layer whose kernel is the transpose of another `Dense` layer's kernel.

    A `Dense(units)` layer maps `n` inputs to `units` outputs with a kernel of
    shape `(n, units)`. `DenseTranspose(tied_to=dense)` maps `units` inputs back
    to `n` outputs with `dense.kernel` transposed, `(units, n)`: the decoder of a
    tied-weights autoencoder stores no kernel of its own. Its bias (shape `(n,)`)
    is its own, and the bias of `tied_to` is not used.

    How the tie survives saving: the layer keeps `tied_to` as an attribute (so
    Keras tracks the shared kernel as one of its weights, and the weights file
    stores it once) and `get_config` returns `tied_to` serialized with
    `keras.saving.serialize_keras_object`. On loading, that config must resolve
    to the very layer the encoder loads, not to a copy:

    - If `tied_to` is a `TiedDense` (what `build_tied_dense_decoder` uses), it
      does, wherever the two layers sit: same model or encoder and decoder
      sub-models of one autoencoder.
    - If `tied_to` is a plain `Dense`, Keras's own object sharing resolves it
      only when both layers are in the same Functional model (not nested
      sub-models); otherwise the loaded model silently gets an untied copy.

    Both rely on the sharing scope of `model.save`/`keras.saving.load_model`
    (which works with `safe_mode=True`). Outside it (for example
    `keras.models.clone_model`, or `from_config(get_config())` by hand), the
    copy gets an untied duplicate of `tied_to`.

    Args:
        tied_to: A `keras.layers.Dense` layer, already built (call it, or the
            encoder it belongs to, first).
        activation: Activation function, a name such as `"relu"` or a callable.
            `None` means linear.
        use_bias: Whether the layer adds its own bias vector.
        bias_initializer: Initializer of the bias vector.
        **kwargs: Base layer keyword arguments, such as `name`.

    Example:

    >>> dense = keras.layers.Dense(3)
    >>> codes = dense(keras.ops.ones((2, 5)))
    >>> layer = DenseTranspose(tied_to=dense, activation="sigmoid")
    >>> layer(codes).shape
    TensorShape([2, 5])
    """

    def __init__(
        self,
        tied_to,
        activation=None,
        use_bias=True,
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(tied_to, dict):
            tied_to = keras.saving.deserialize_keras_object(tied_to)
        if not isinstance(tied_to, keras.layers.Dense):
            raise ValueError(
                "Expected tied_to to be a keras.layers.Dense layer. "
                f"Received: tied_to={tied_to!r}"
            )
        self.tied_to = tied_to
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        if not self.tied_to.built:
            raise ValueError(
                "Expected tied_to to be a built Dense layer (call it once "
                f"first). Received: tied_to={self.tied_to.name!r}, not built"
            )
        input_dim = input_shape[-1]
        kernel_shape = tuple(self.tied_to.kernel.shape)
        if input_dim is not None and input_dim != kernel_shape[1]:
            raise ValueError(
                f"Expected inputs with last dimension {kernel_shape[1]} (the "
                f"units of {self.tied_to.name!r}). Received: "
                f"input_shape={tuple(input_shape)}"
            )
        self.output_dim = kernel_shape[0]
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.output_dim,),
                initializer=self.bias_initializer,
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        outputs = ops.matmul(inputs, ops.transpose(self.tied_to.kernel))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.tied_to.kernel.shape[0],)

    def get_config(self):
        base = super().get_config()
        config = {
            "tied_to": keras.saving.serialize_keras_object(self.tied_to),
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**base, **config}


@keras.saving.register_keras_serializable(package="keras_ae")
class Sampling(keras.layers.Layer):
    """Draws `z = z_mean + exp(0.5 * z_log_var) * epsilon`, `epsilon ~ N(0, I)`.

    This is the reparameterization trick: the randomness sits in `epsilon`, so
    gradients flow to `z_mean` and `z_log_var`. The noise comes from the layer's
    own `keras.random.SeedGenerator`, so a given `seed` repeats the same draws,
    and every call draws fresh noise. Under a multi-replica `tf.distribute`
    strategy each replica folds its replica id into the seed
    (`keras_ae.devices.replica_seed`): without that the mirrored generator
    would give every replica the same noise.

    Args:
        seed: Int or None, the seed of the layer's generator.
        **kwargs: Passed to `keras.layers.Layer` (for example `name`).

    Call arguments:
        inputs: A list `[z_mean, z_log_var]` of tensors of the same shape.

    Returns:
        A tensor `z` of the shape of `z_mean`.

    Example:
        >>> z_mean = ops.zeros((10000, 2))
        >>> z_log_var = ops.log(ops.full((10000, 2), 4.0))  # variance 4
        >>> z = Sampling(seed=0)([z_mean, z_log_var])
        >>> z.shape
        TensorShape([10000, 2])
        >>> round(float(ops.std(z)), 1)  # exp(0.5 * log 4) = 2
        2.0
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def standard_normal(self, shape, dtype="float32"):
        """Draws `epsilon ~ N(0, I)` of `shape` from the layer's generator."""
        seed = replica_seed(self.seed_generator)
        return keras.random.normal(shape, dtype=dtype, seed=seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = self.standard_normal(ops.shape(z_mean), z_mean.dtype)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        base = super().get_config()
        return {**base, "seed": self.seed}


def kl_divergence(z_mean, z_log_var):
    """KL divergence from `N(z_mean, exp(z_log_var))` to `N(0, I)`, per example.

    `KL = 0.5 * sum_j (z_mean_j^2 + exp(z_log_var_j) - 1 - z_log_var_j)`, summed
    over the latent dimensions (the last axis).

    Args:
        z_mean: Tensor `(batch, latent_dim)`.
        z_log_var: Tensor of the same shape.

    Returns:
        A tensor `(batch,)` of KL divergences in nats.

    Example:
        >>> z_mean = ops.convert_to_tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> ops.convert_to_numpy(kl_divergence(z_mean, ops.zeros((2, 2))))
        array([0., 1.], dtype=float32)

        The first row is the prior itself; the second, `0.5 * (1^2 + 1^2)`.
    """
    z_mean = ops.convert_to_tensor(z_mean)
    z_log_var = ops.cast(z_log_var, z_mean.dtype)
    return 0.5 * ops.sum(
        ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1
    )
