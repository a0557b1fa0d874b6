"""videogen's REST API (Django REST framework): include ``videogen.api.urls``."""
