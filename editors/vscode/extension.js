// Starts `playbook lsp` (stdio) for .pb files. Highlighting comes from the TextMate grammar.
"use strict";
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("playbook");
  const [command, ...args] = config.get("command", ["playbook", "lsp"]);
  const lang = config.get("lang", "");
  const env = lang ? { ...process.env, PLAYBOOK_LANG: lang } : process.env;
  const contacts = config.get("contacts", "");
  client = new LanguageClient(
    "playbook",
    "Playbook",
    { command, args, options: { env } },
    {
      documentSelector: [{ scheme: "file", language: "playbook" }],
      initializationOptions: contacts ? { contacts } : {},
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
