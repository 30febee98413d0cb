"""keras_ae.course.runner."""
