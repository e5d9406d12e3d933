"""Reusable constructs: each models one logical unit; the stacks compose them and wire permissions."""
