// Loads extension.js with stand-ins for the `vscode` and `vscode-languageclient` modules (which
// only exist inside the editor), activates it, and prints as JSON how it starts the language
// server. tests/test_editor.py reads it.
"use strict";

const Module = require("module");
const path = require("path");

const started = [];
const stubs = {
  vscode: {
    workspace: {
      getConfiguration: () => ({ get: (key) => (process.env.ORCHDSL_COMMAND && key === "command"
        ? JSON.parse(process.env.ORCHDSL_COMMAND) : undefined) }),
      createFileSystemWatcher: (glob) => ({ glob }),
    },
  },
  "vscode-languageclient/node": {
    TransportKind: { stdio: 0 },
    LanguageClient: class {
      constructor(id, name, server, client) {
        started.push({ id, name, server, documentSelector: client.documentSelector,
          watch: client.synchronize.fileEvents.glob });
      }
      start() { return Promise.resolve(); }
      stop() { return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, parent, isMain) {
  return request in stubs ? stubs[request] : load.call(this, request, parent, isMain);
};

const extension = require(path.join(__dirname, "..", "extension.js"));
const context = { subscriptions: [] };
extension.activate(context).then(() => {
  process.stdout.write(JSON.stringify({ started, subscriptions: context.subscriptions.length }));
  return extension.deactivate();
});
