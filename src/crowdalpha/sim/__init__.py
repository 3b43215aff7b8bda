"""crowdalpha.sim: simulated participants, seasons and the live demo (docs/architecture.md)."""
