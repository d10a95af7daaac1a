"""Offline replay bench on real logs (leave-one-out, full ranking)."""
