// GraphiQL as the gateway's product page: the explorer plugin, the shipped operations as
// tabs with example variables, and (in development) a demo viewer's token in the headers.
// The page embeds its configuration as JSON (#pgw-graphiql-config); gateway/graphiql.py
// writes it. Bundled by build.mjs (esbuild) into dist/, served from /graphiql/assets.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';

const config = JSON.parse(document.getElementById('pgw-graphiql-config').textContent);

// Saved tabs would hide a newer set of shipped operations: keep GraphiQL's storage under a
// namespace that changes with the tabs the server sends.
function namespacedStorage(namespace) {
  const prefix = `pgw:${namespace}:`;
  const keys = () =>
    Object.keys(window.localStorage).filter((key) => key.startsWith(prefix));
  return {
    getItem: (key) => window.localStorage.getItem(prefix + key),
    setItem: (key, value) => window.localStorage.setItem(prefix + key, value),
    removeItem: (key) => window.localStorage.removeItem(prefix + key),
    clear: () => keys().forEach((key) => window.localStorage.removeItem(key)),
    get length() {
      return keys().length;
    },
  };
}

// GraphiQL 4.1 reads `visiblePlugin` before the plugins register, so the plugin pane starts
// hidden (its resize state is initialised once): open the explorer as a user would, once the
// sidebar button exists.
function openExplorerOnLoad(root) {
  const observer = new MutationObserver(() => {
    const button = root.querySelector('button[aria-label="Show GraphiQL Explorer"]');
    if (button) {
      observer.disconnect();
      button.click();
    }
  });
  observer.observe(root, { childList: true, subtree: true });
}

const fetcher = createGraphiQLFetcher({
  url: new URL(config.endpoint, window.location.href).toString(),
});
const explorer = explorerPlugin({ showAttribution: false });

const root = document.getElementById('graphiql');
openExplorerOnLoad(root);
createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={[explorer]}
    defaultTabs={config.tabs}
    defaultHeaders={config.defaultHeaders}
    shouldPersistHeaders={false}
    defaultEditorToolsVisibility={config.defaultHeaders ? 'headers' : 'variables'}
    storage={namespacedStorage(config.storageNamespace)}
  />,
);
