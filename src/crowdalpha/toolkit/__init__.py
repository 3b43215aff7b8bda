"""crowdalpha.toolkit: what participants use to validate models (docs/architecture.md)."""
