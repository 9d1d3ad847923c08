"""Load benchmark: mock Gemini upstream, load generator, stats and report. Run `python -m bench`."""
