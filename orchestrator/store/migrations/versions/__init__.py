"""One module per schema revision: 0001 is release 1's schema, each later one a change."""
