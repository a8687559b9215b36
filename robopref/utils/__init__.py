"""Small shared helpers (seeding, device selection, run directories)."""
