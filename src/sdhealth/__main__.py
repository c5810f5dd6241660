"""``python -m sdhealth``: the same as the ``sdhealth`` command."""

import sys

from sdhealth.cli import main

if __name__ == "__main__":
    sys.exit(main())
