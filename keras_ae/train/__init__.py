"""keras_ae.train."""
