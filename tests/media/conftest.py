import sys
from pathlib import Path

# Shared helpers of the media tests (vectors, oracles, tools, the independent CENC decryptor).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "tests" / "media"))
