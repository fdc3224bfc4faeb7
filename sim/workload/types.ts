/** One request as the fleet simulator sees it. */
export interface SimRequest {
  id: number;
  /** Seconds from the start of the simulation (or trace). */
  arrival: number;
  /** Prompt tokens. */
  input: number;
  /** Tokens to generate. */
  output: number;
  /** Leading input tokens whose KV could come from a prefix cache (Mooncake traces only). */
  prefixHitTokens?: number;
}

/** A normalized arrival-rate shape: at(t) in [0, 1], repeating every periodS seconds. */
export interface Envelope {
  at(tSeconds: number): number;
  periodS: number;
}

export type TraceFormat = 'azure' | 'mooncake';
