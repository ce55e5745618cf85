"""Cross-package tests. ``platform/`` runs only against the real OCDM stack.

``scripts/real-stack-tests`` starts a private Thunder daemon and runs ``platform/`` (with the HAL
tests and the conformance kit) against ``libClientOCDM.so``; it sets ``DRMKIT_REAL_STACK=1``. The
normal run leaves ``platform/`` out.
"""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("DRMKIT_REAL_STACK") else ["platform"]
