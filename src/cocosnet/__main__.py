import sys

from cocosnet.cli import main

sys.exit(main())
