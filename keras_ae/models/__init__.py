"""keras_ae.models."""
