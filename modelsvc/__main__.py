"""``python -m modelsvc``: see `modelsvc.cli`."""

import sys

from modelsvc.cli import main

sys.exit(main())
