import sys

from fashion_edge.cli.main import main

sys.exit(main())
