"""The plugin system: hook specifications, the host that loads entry points, and the plugin-facing types."""
