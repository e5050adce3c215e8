"""The shared adapter contract suite: subclass ``AdapterContract`` per adapter."""
