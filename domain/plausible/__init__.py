"""Plausible input (DESIGN §2): the checks every value passes where it enters
the domain, and the total readers for values stored before the checks existed."""
