"""crowdalpha.api (see DESIGN.md, Layout)."""
