"""``python -m models.build_offline``: see ``cli.py``."""

from .cli import main

raise SystemExit(main())
