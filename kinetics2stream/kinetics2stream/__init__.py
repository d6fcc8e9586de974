"""kinetics2stream package."""
