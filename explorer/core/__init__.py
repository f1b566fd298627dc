"""Headless core: sources, layer indexing, analysis and exports. Never imports textual."""
