// Apollo Client 4 asks the gateway for a progressive Discovery page with @defer, over the
// multipart/mixed incremental delivery format (decision 0021), and reports when each
// result arrived.
//
//   node progressive.mjs URL TOKEN[,TOKEN...]
//
// One page per token (each viewer's own, one after the other). Prints one JSON line:
// {"runs": [{"emissions": [{"ms", "instant": [...], "personalised": [...], "loading",
// "data" (the first only)}], "data": <the last>}, ...]}. Times are from the request's start.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQL17Alpha9Handler } from "@apollo/client/incremental";

const [url, tokens = ""] = process.argv.slice(2);

const SECTION = `
  __typename id title source trackingId
  ... on VenueCarousel { venues { id name slug rating deliveryMinutes priceLevel tags imageUrl isOpen distanceMeters reason brand { id name logoUrl } } }
  ... on ItemCarousel { items { id name imageUrl venueId reason price { amount currency } } }
  ... on CategoryTiles { categories { slug name imageUrl } }
  ... on BannerCarousel { banners { id title imageUrl targetUrl } }
  ... on BrandCarousel { brands { id name logoUrl } }
`;
const QUERY = gql(`
  query ProgressiveDiscovery($loc: LocationInput!) {
    discovery(location: $loc) {
      requestId
      layout {
        id
        instant { ${SECTION} }
        ... @defer(label: "personalised") { personalised { ${SECTION} } }
      }
    }
  }
`);

function client(token) {
  return new ApolloClient({
    link: new HttpLink({ uri: url, headers: token ? { authorization: `Bearer ${token}` } : {} }),
    cache: new InMemoryCache({
      possibleTypes: {
        Section: ["VenueCarousel", "ItemCarousel", "CategoryTiles", "BannerCarousel", "BrandCarousel"],
      },
    }),
    incrementalHandler: new GraphQL17Alpha9Handler(),
  });
}

function once(apollo) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const emissions = [];
    let last;
    const subscription = apollo
      .watchQuery({
        query: QUERY,
        variables: { loc: { lat: 60.1699, lon: 24.9384 } },
        fetchPolicy: "no-cache",
      })
      .subscribe({
        next(result) {
          if (result.error) {
            subscription.unsubscribe();
            reject(result.error);
            return;
          }
          const layout = result.data?.discovery?.layout;
          if (!layout) return;
          last = result.data;
          emissions.push({
            ms: performance.now() - started,
            instant: layout.filter((s) => s.instant).map((s) => s.id),
            personalised: layout.filter((s) => s.personalised).map((s) => s.id),
            loading: result.loading,
            data: emissions.length === 0 ? result.data : undefined,
          });
          if (!result.loading && result.dataState === "complete") {
            subscription.unsubscribe();
            resolve({ emissions, data: last });
          }
        },
        error: reject,
      });
  });
}

const runs = [];
for (const token of tokens.split(",")) {
  runs.push(await once(client(token)));
}
console.log(JSON.stringify({ runs }));
