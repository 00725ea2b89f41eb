"""The rules language: grammar, parser, AST, types, catalog of names and the checker. Knows no engine."""
