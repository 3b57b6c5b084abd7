#!/usr/bin/env node
// npm's install step. Installed from the package (npm install virtiofs-dax),
// it builds the native addons (tools/native, core/native) for this machine's
// Node; where no compiler is, it says what each one's fallback then lacks and the install goes
// on. In a checkout it does nothing: prepare (tools/build.js) builds it.
// Prints to stderr only.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

if (!fs.existsSync(path.join(__dirname, 'build.js'))) require('./addons.js').buildAddons();
