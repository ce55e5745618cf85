"""``python -m drmkit.cli ...`` is ``drmkit ...`` (e.g. ``python -X importtime -m drmkit.cli``)."""

from drmkit.cli import main

main()
