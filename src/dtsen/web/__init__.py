"""Server-rendered pages: Jinja2 templates, static assets served from the package, translations."""
