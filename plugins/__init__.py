"""Channel plugins and the wire libraries they share."""
