"""crowdalpha.fund: the meta-model turned into a neutral long/short book (docs/architecture.md)."""
