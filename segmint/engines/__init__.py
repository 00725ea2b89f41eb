"""One folder per execution engine, each compiling the checked plan its own way."""
