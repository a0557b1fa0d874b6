"""URLs of the videogen app; include them under any prefix in the host site."""

app_name = "videogen"

urlpatterns: list = []
