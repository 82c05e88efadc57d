"""Which tensor a `SavedTensor` is (its `source`): one of the layer's inputs or outputs, a new tensor it
makes, or a copy of one of its weights.  A leaf, so the records and the helpers that build them share it."""

INPUT, OUTPUT, NEW, WEIGHT = "input", "output", "new", "weight"
