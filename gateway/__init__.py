"""The composition root and adapters: settings, container, HTTP app, storage, workers, CLI."""
