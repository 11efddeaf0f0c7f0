"""The language server (``orchdsl lsp``): ``index`` (names and where they are),
``analysis`` (checks of open documents and the answers drawn from them),
``complete`` (completion from the grammar) and ``server`` (the LSP over pygls)."""
