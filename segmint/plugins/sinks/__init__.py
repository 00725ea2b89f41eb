"""Built-in sinks: files, Mailchimp, webhooks, Redis."""
