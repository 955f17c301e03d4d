import sys

from kubesmith_cli.main import main

sys.exit(main())
