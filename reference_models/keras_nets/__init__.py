"""Keras builders of the reference models (imported only when a Keras reference is built)."""
