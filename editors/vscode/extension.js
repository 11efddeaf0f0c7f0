// The orchdsl extension: highlighting comes from syntaxes/orch.tmLanguage.json; everything else
// (diagnostics, go to definition, references, rename, hover, completion, outline, formatting,
// quick fixes) from the language server `orchdsl lsp`, started over standard input and output.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions(config) {
  const command = config.get("command") || ["orchdsl", "lsp"];
  return { command: command[0], args: command.slice(1), transport: TransportKind.stdio };
}

async function activate(context) {
  const config = vscode.workspace.getConfiguration("orchdsl");
  client = new LanguageClient(
    "orchdsl",
    "orchdsl",
    serverOptions(config),
    {
      documentSelector: [{ language: "orch" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.orch") },
    },
  );
  context.subscriptions.push(client);
  await client.start();
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate, serverOptions };
