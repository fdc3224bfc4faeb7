// fast-check for every property test, with a fixed seed so a CI run is reproducible: a failure there is a real bug,
// not a draw. `BATON_FC_SEED=<int>` explores other cases (a failure prints the seed and path to replay).
import fc from 'fast-check';

export const DEFAULT_FC_SEED = 20240611;

export function fcSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['BATON_FC_SEED'];
  if (raw === undefined || raw === '') return DEFAULT_FC_SEED;
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`BATON_FC_SEED must be an integer, got "${raw}"`);
  return seed;
}

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: fcSeed() });

export default fc;
