"""PyTorch builders of the reference models (imported only when a PyTorch reference is built)."""
