// Lint rules. Every layer imports only the layers below it (LAYERS). The core layer gets extra
// rules: it must stay pure (no I/O, no clocks, no randomness, no Promises), which is what makes
// it replayable in the simulator; the node shell takes its time, timers and randomness from its
// Env, so the simulator can run it on virtual time.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The layers, bottom first: each is a folder under src/, and "root" is src/*.ts (server.ts, the
 * composition of rpc and status, and index.ts, the package entry). A layer imports only itself and
 * the layers before it; "client" is reserved for the client library above rpc.
 * test/architecture/imports.test.ts reads this list and checks every import and the absence of
 * cycles; docs/architecture.md explains the order.
 */
export const LAYERS = [
  "core",
  "util",
  "env",
  "storage",
  "node",
  "rpc",
  "client",
  "status",
  "root",
  "cli",
  "testing",
];

/** How deep files sit under a layer's folder (src/rpc/gen/brpc/policy/x.ts is 4). */
const MAX_DEPTH = 4;

/**
 * One no-restricted-imports block per layer and folder depth: from a file `depth` folders below
 * src/, an import reaches another layer through exactly that many "../" (root files: "./"), so
 * the patterns match the layers above and nothing else.
 */
function layerImportRules() {
  return LAYERS.flatMap((layer, index) => {
    const above = LAYERS.slice(index + 1);
    if (above.length === 0) return [];
    const folders = above.filter((name) => name !== "root");
    const message = `${layer === "root" ? "src/*.ts" : `${layer}/`} imports only ${LAYERS.slice(0, index + 1).join(", ")} (eslint.config.js LAYERS).`;
    const depths = layer === "root" ? [0] : Array.from({ length: MAX_DEPTH }, (_, i) => i + 1);
    return depths.map((depth) => {
      const up = depth === 0 ? "\\./" : "\\.\\./".repeat(depth);
      const patterns = [{ regex: `^${up}(${folders.join("|")})/`, message }];
      if (above.includes("root")) patterns.push({ regex: `^${up}[^/]+$`, message });
      const files = depth === 0 ? ["src/*.ts"] : [`src/${layer}/${"*/".repeat(depth - 1)}*.ts`];
      return { files, rules: { "no-restricted-imports": ["error", { patterns }] } };
    });
  });
}

/** Clocks, timers and randomness: the node shell gets them from its Env (src/env/env.ts). */
const nodeClocks = [
  { name: "Date", message: "node/ reads time from its Env (env.nowMs)." },
  { name: "performance", message: "node/ reads time from its Env (env.nowMs)." },
  { name: "setTimeout", message: "node/ sets timers through its Env (env.setTimer)." },
  { name: "setInterval", message: "node/ sets timers through its Env (env.setTimer)." },
  { name: "setImmediate", message: "node/ sets timers through its Env (env.setTimer)." },
  { name: "clearTimeout", message: "node/ cancels timers through what env.setTimer returned." },
  { name: "clearInterval", message: "node/ cancels timers through what env.setTimer returned." },
];

const coreImpurities = [
  { name: "Date", message: "core/ takes time as an input; it never reads a clock." },
  { name: "performance", message: "core/ takes time as an input; it never reads a clock." },
  { name: "setTimeout", message: "core/ has no timers; the shell ticks it." },
  { name: "setInterval", message: "core/ has no timers; the shell ticks it." },
  { name: "setImmediate", message: "core/ has no timers; the shell ticks it." },
  { name: "queueMicrotask", message: "core/ is synchronous." },
  { name: "Promise", message: "core/ is synchronous." },
  { name: "process", message: "core/ has no access to the process." },
];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "src/rpc/gen/", "docs/api/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["warn", "error"] }],
      eqeqeq: ["error", "always"],
    },
  },
  ...layerImportRules(),
  {
    files: ["src/node/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", ...nodeClocks],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "hrtime", message: "node/ reads time from its Env (env.nowMs)." },
        { object: "Math", property: "random", message: "node/ draws randomness from its Env (env.random)." },
      ],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", ...coreImpurities],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "core/ takes randomness as an input." },
      ],
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["node:*", "../*", "!./*"], message: "core/ imports only itself." }] },
      ],
      "@typescript-eslint/promise-function-async": "off",
      "no-restricted-syntax": [
        "error",
        { selector: "FunctionDeclaration[async=true]", message: "core/ is synchronous." },
        { selector: "ArrowFunctionExpression[async=true]", message: "core/ is synchronous." },
        { selector: "FunctionExpression[async=true]", message: "core/ is synchronous." },
      ],
    },
  },
  {
    // The client layer sits on rpc: it may import core, env, rpc and the public PeerId, never
    // a node's internals, storage, the status pages, the CLI command or the test harness, so a
    // client process loads no server code.
    files: ["src/client/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "../*.js",
                "../cli/*",
                "../status/*",
                "../storage/*",
                "../testing/*",
                "../node/*",
                "!../node/peer-id.js",
              ],
              message: "client/ imports only downward: core, util, env, rpc and node/peer-id.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "examples/**/*.ts", "src/testing/sim-cli.ts", "scripts/**"],
    rules: { "no-console": "off" },
  },
);
