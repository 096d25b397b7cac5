#!/usr/bin/env node
import { runTool } from './tools/admin-cli.js';
import { useradd } from './tools/useradd.js';

void runTool(useradd);
