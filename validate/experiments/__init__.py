"""Experiments, one module each; importing a module registers its experiments."""
