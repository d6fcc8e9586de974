"""acam package."""
