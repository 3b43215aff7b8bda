"""crowdalpha.web (see DESIGN.md, Layout)."""
