"""Adapters: everything that talks to the outside (axis, hubs, QLVB, broker, store).

They arrive with the issues that need them; the edxml library never imports them.
"""
