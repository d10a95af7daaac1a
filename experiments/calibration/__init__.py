"""Worlds calibrated to real logs (``world.from_data``).

The real dataset (MovieLens, Amazon Beauty, any S3-Rec file) gives the catalogue —
titles, topics from genres or categories (or a factorisation of the interaction
matrix), release order — and the users' fitted interests, activity and the items'
appeal (:mod:`.fit`); the fit is cached under the data directory (:mod:`.cache`).
The calibration report (:mod:`.statistics`, :mod:`.figures`) holds the log simulated
under a neutral policy against the real one; :mod:`.warm_start` turns the real training
interactions into a log a policy can learn from before the first episode.
"""
