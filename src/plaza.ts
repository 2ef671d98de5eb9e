#!/usr/bin/env node
// The `plaza` entry point (dist/plaza.mjs): turns on Node's module compile cache where there is
// one (Node ≥ 22.1: the bundle's code is compiled once, then read back), then loads the command.
// On Node 20 there is none and this costs one more small module.
import nodeModule from 'node:module';

(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./main.js');
