"""techscout search: the backend protocol and its implementations, the query model, alerts and the web app."""
