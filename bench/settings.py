"""The project's settings, with the two changes the benchmarks need.

- ROOT_URLCONF adds the baseline views (bench/baseline_urls.py) next to the project's URLs, so
  that the baselines run through exactly the same middleware and database settings.
- STATIC_ROOT points outside the project tree: with DEBUG off the manifest storage needs
  `collectstatic`, which the benchmarks run into this temporary directory.
"""

import tempfile
from pathlib import Path

from selfsignup.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
STATIC_ROOT = Path(tempfile.gettempdir()) / "selfsignup-bench-static"
