"""`python -m proxy` is the same command as `v1proxy`."""

from proxy.cli import main

raise SystemExit(main())
