import sys

from shared.shell.cli import main

sys.exit(main())
