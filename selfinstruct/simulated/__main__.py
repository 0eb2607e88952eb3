"""``python -m selfinstruct.simulated --port 0``: the simulated model as a standalone server."""

import sys

from selfinstruct.simulated.cli import main

sys.exit(main())
