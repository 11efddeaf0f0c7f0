import sys

from orchdsl.cli import main

sys.exit(main())
