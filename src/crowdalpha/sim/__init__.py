"""crowdalpha.sim (see DESIGN.md, Layout)."""
