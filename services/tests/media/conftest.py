import sys
from pathlib import Path

# The helper modules of this folder (media_support, cenc_reference) are imported by name.
sys.path.insert(0, str(Path(__file__).parent))
