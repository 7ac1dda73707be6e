"""Features: silver event stream and identity map, gold client features and labels."""
