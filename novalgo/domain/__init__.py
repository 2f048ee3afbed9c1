"""Pure trading logic: no I/O, no clocks, no network. Tested without fixtures."""
