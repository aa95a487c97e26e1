// Composes a Federation 2 supergraph with @theguild/federation-composition.
//
//   node compose.mjs NAME=SOURCE [NAME=SOURCE ...] [--out FILE]
//
// SOURCE is a subgraph's SDL file, or its URL (then its `_service { sdl }` is fetched and
// the URL is the routing URL). Prints {"ok": true, "supergraph": FILE?} or
// {"ok": false, "errors": [...]} as one JSON line; exits 1 when composition fails.
import { readFileSync, writeFileSync } from "node:fs";
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

async function sdlOf(source) {
  if (!/^https?:\/\//.test(source)) {
    return { sdl: readFileSync(source, "utf8"), url: undefined };
  }
  const response = await fetch(source, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!body.data) throw new Error(`${source}: ${JSON.stringify(body)}`);
  return { sdl: body.data._service.sdl, url: source };
}

const args = process.argv.slice(2);
let out;
const services = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") {
    out = args[++i];
    continue;
  }
  const [name, source] = args[i].split(/=(.*)/s);
  const { sdl, url } = await sdlOf(source);
  services.push({ name, typeDefs: parse(sdl), url: url ?? `http://${name}.invalid/graphql` });
}
const result = composeServices(services);
if (result.errors && result.errors.length) {
  console.log(JSON.stringify({ ok: false, errors: result.errors.map((e) => e.message) }));
  process.exit(1);
}
if (out) writeFileSync(out, result.supergraphSdl);
console.log(JSON.stringify({ ok: true, supergraph: out ?? null, sdl: out ? undefined : result.supergraphSdl }));
