"""The example web application: the guide's FastAPI server that enqueues the config's tasks."""
