// ESLint for the browser code: plain ES modules served as they are (no build step).
// Run by bin/test (`node_modules/.bin/eslint`); installed by `bin/setup --dev` (npm ci).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    ignores: [
      ".venv/", "node_modules/", "staticfiles/", "var/", "media/", "private/", "build/",
      "benchmarks/out/", "tests/browser/artifacts/",
    ],
  },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: globals.browser },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "all" }],
    },
  },
  {
    files: ["eslint.config.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
