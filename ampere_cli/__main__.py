from ampere_cli.main import main

raise SystemExit(main())
