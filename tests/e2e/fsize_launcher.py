"""`python fsize_launcher.py LIMIT ARGS...`: run the awaken CLI with ARGS under a file size limit
of LIMIT bytes (RLIMIT_FSIZE, soft; the hard limit stays, so that the test can lift it with
prlimit). A write past it fails with EFBIG, as one past a full disk fails with ENOSPC."""

from __future__ import annotations

import os
import resource
import sys

limit = int(sys.argv[1])
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
os.execv(sys.executable, [sys.executable, "-m", "awaken.cli.main", *sys.argv[2:]])
