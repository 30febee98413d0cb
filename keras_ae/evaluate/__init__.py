"""keras_ae.evaluate."""
