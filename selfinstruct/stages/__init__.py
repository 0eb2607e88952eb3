"""Pipeline stages: each reads what earlier stages wrote in the run directory and appends its own."""
