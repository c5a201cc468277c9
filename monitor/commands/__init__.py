"""CLI sub-commands: each module has HELP, EXAMPLES, configure() and run()."""
