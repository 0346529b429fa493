"""Pure business rules of the platform: records, policies, state machines. No I/O."""
