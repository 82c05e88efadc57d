"""PyTorch builders of the reference models (imported only when a PyTorch reference is built).

Owns: one builder per reference network, as PyTorch code.
May import: torch, `reference_models.architectures`, `reference_models.lecun_rules`, `adapters.torch`.
"""
