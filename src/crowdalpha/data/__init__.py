"""crowdalpha.data (see DESIGN.md, Layout)."""
