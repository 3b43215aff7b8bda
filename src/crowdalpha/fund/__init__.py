"""crowdalpha.fund (see DESIGN.md, Layout)."""
