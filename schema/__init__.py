"""Strawberry types, inputs, unions and the Schema object with its extensions."""
