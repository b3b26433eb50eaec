"""The browser client: static pages and scripts served by `signaling` (no build step)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
