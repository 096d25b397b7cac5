#!/usr/bin/env node
import { runTool } from './tools/admin-cli.js';
import { userdel } from './tools/userdel.js';

void runTool(userdel);
