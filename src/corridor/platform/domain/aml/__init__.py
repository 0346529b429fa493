"""Real-time AML monitoring (issue 16): rules as data (`config`), USD equivalents
(`rates`), the engine that scores typologies over a bounded window (`engine`), and the
evaluation of a CSV stream (`stream`)."""
