// Lint rules. The core layer gets extra rules: it must stay pure (no I/O, no clocks,
// no randomness, no Promises), which is what makes it replayable in the simulator.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const coreImpurities = [
  { name: "Date", message: "core/ takes time as an input; it never reads a clock." },
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
                "../cli/*",
                "../status/*",
                "../storage/*",
                "../testing/*",
                "../node/*",
                "!../node/peer-id.js",
              ],
              message: "client/ imports only downward: core, env, rpc and node/peer-id.",
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
