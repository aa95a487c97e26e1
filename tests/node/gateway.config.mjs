// Hive Gateway's configuration for the supergraph end-to-end test (decision 0020).
//
// A router in front of the personalisation gateway forwards what the gateway needs to serve
// the viewer as if they had called it directly: their token, their deadline and their trace.
import { defineConfig } from "@graphql-hive/gateway";

const FORWARDED = ["authorization", "x-request-timeout-ms", "traceparent"];

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const headers = {};
      for (const name of FORWARDED) {
        const value = request.headers.get(name);
        if (value) headers[name] = value;
      }
      return headers;
    },
  },
  // one supergraph file, composed by the test: nothing to poll, nothing to report
  pollingInterval: 0,
  graphiql: false,
  landingPage: false,
  logging: "warn",
});
