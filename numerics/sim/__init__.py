"""Stochastic simulators: replicas of online learning rules advanced together as arrays."""
