"""T2L: a frozen CLIP with temporal tokens and bottleneck adapters (TMLR 2025)."""
