"""``python -m slowfast_zoo`` runs the command line."""

import sys

from slowfast_zoo.cli import main

sys.exit(main())
