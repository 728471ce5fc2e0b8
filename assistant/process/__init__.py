"""The process's edges: signals, environment and standard streams (run_context), what is printed (shown) and every file written (outputs). May import: nothing."""
