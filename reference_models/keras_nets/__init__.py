"""Keras builders of the reference models (imported only when a Keras reference is built).

Owns: one builder per reference network, as Keras code.
May import: keras, `reference_models.architectures`, `reference_models.lecun_rules`, `adapters.keras`.
"""
