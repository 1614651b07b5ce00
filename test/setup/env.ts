// Validate every entity against the data-model schema, as `j1-integration collect` does.
process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION = 'true';
