// The graphql-http conformance audit against a running server: node graphql-http-audit.mjs URL
// Prints one JSON array of {id, name, status, reason} (status: ok | warn | error) on stdout;
// tests/gateway/test_graphql_http_audit.py runs it against a real gateway and reads the array.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-http-audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
const report = results.map((result) => ({
  id: result.id,
  name: result.name,
  status: result.status,
  reason: result.status === 'ok' ? null : result.reason,
}));
process.stdout.write(JSON.stringify(report));
