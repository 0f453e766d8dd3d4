// Copies the QR decoder build and its licence from node_modules into static/vendor/.
// Reproduce with: npm ci && npm run vendor   (run in capture/web/)
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "node_modules", "jsqr");
const out = join(here, "static", "vendor");
const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version;
mkdirSync(out, { recursive: true });
copyFileSync(join(pkg, "dist", "jsQR.js"), join(out, "jsQR.js"));
copyFileSync(join(pkg, "LICENSE"), join(out, "jsQR.LICENSE"));
console.log(`vendored jsqr ${version} into static/vendor/`);
