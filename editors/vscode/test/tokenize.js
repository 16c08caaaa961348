// Tokenize playbooks with the extension's TextMate grammar exactly as VS Code does
// (vscode-textmate + the Oniguruma WASM build) and print a snapshot:
//   > the source line
//   #  ^^^^ scope scope…
// One `#` line per token; whitespace-only tokens are left out. Tokens with no scope besides
// source.playbook are marked UNSCOPED (the test requires none).
// Usage: node tokenize.js FILE…
"use strict";
const fs = require("fs");
const path = require("path");
const oniguruma = require("vscode-oniguruma");
const vsctm = require("vscode-textmate");

const grammarPath = path.join(__dirname, "..", "syntaxes", "playbook.tmLanguage.json");
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;

async function main(files) {
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
  });
  const grammar = await registry.loadGrammar("source.playbook");
  for (const file of files) {
    const out = [];
    let stack = vsctm.INITIAL;
    for (const line of fs.readFileSync(file, "utf8").replace(/\r\n?/g, "\n").split("\n")) {
      out.push("> " + line);
      const result = grammar.tokenizeLine(line, stack);
      for (const token of result.tokens) {
        const text = line.slice(token.startIndex, token.endIndex);
        if (!text.trim()) continue;
        const scopes = token.scopes.filter((s) => s !== "source.playbook");
        const marks = " ".repeat(token.startIndex) + "^".repeat(token.endIndex - token.startIndex);
        out.push("#" + marks + " " + (scopes.length ? scopes.join(" ") : "UNSCOPED"));
      }
      stack = result.ruleStack;
    }
    process.stdout.write("== " + path.basename(file) + "\n" + out.join("\n") + "\n");
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(2);
});
