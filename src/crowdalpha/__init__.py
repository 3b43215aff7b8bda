"""crowdalpha: a self-hostable crowdsourced ML tournament for a market-neutral equity fund."""

__version__ = "0.1.0"
