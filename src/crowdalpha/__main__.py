"""``python -m crowdalpha`` runs the CLI."""

from crowdalpha.cli import main

main()
