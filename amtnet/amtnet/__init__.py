"""amtnet package."""
