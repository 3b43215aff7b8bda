"""crowdalpha.tournament (see DESIGN.md, Layout)."""
