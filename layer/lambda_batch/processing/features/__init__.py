"""Optional features of the processors, each on the hooks of ``features.hooks``, loaded only when on."""
