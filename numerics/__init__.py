"""learndyn numerics: compile derived expressions, integrate them, simulate the same rules."""
