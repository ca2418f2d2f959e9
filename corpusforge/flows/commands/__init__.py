"""Each corpus's registration (`CORPUS`) and the command-line options only it has."""
