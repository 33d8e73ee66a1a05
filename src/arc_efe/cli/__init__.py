"""Command line: thin wrappers that parse argv/YAML and call the library."""
