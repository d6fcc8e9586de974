"""stabn package."""
