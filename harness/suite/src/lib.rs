//! Suite YAML schema, validation with file:line:col errors, grid expansion.
