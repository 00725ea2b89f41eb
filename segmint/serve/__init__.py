"""`segmint serve`: the website personalization service (Starlette on uvicorn).

Lookups of a visitor's segments from the latest run's snapshot, real-time evaluation of a
posted profile, and a small JavaScript snippet that shows page blocks by segment.
"""
