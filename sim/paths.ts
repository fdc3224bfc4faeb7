// Locates bundled data whether code runs from source (tsx) or from dist/.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The repository root: the nearest folder above this module that holds package.json. */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  cachedRoot = dir;
  return dir;
}

/** A file under sim/data (bundled traces and GPU profiles). */
export function dataFile(...parts: string[]): string {
  return resolve(projectRoot(), 'sim', 'data', ...parts);
}
