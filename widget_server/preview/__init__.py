"""``widget-server preview``: what a tree author sees while editing, in development only.

The trees folder's problems, each tree's graph, and every node rendered by the
frame's real templates in the four locales, reloaded in the browser when a file
is saved. It holds no secret and no partner of the deployment: see :mod:`.config`.
"""
