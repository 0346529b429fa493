"""Protocol rule versions, chosen by height. v2 would override only what changed."""
