"""crowdalpha.toolkit (see DESIGN.md, Layout)."""
