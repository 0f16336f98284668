"""`python -m studio.cli`: the same as `flipbook`."""
import sys

from . import main

sys.exit(main())
