#!/usr/bin/env node
// Entry point of the `mae` command. Commands live in dist/commands (compiled from src/commands).
const { execute } = require('@oclif/core');

execute({ dir: __dirname }).catch(() => {
  process.exitCode = process.exitCode || 1;
});
