"""Pure rules of the product: no I/O, no framework, nothing of ours imported."""
