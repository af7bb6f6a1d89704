"""The `ampere` command line (ampere_cli.main)."""
