"""The web pages: the customer portal (and later the console, back office and explorer),
server-rendered from the same services as the API (issue 15; docs/architecture.md)."""
