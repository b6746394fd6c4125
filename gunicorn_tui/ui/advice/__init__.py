"""The dashboard's advice panel: what to try next, with its evidence, and a
key that prepares the retune in the Retune form."""
