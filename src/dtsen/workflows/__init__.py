"""Workflows of the serving plane: what happens to a citizen's request, step by step, behind thin routers."""
