//! Markdown and HTML reports, SVG charts, paper-vs-reproduced claims.
