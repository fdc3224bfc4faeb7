// One request's life through the P/D fleet; times in simulated seconds.
export interface FlightRequest {
  id: number;
  arrival: number;
  input: number;
  output: number;
  prefillDone: number;
  /** When the KV cache arrived at the decode instance (prefill done + transfer). */
  decodeArrival: number;
  /** Tokens already generated (kept across preemption). */
  generated: number;
  /** Decode progress counter of the instance at (re)admission minus `generated`. */
  g0: number;
  preemptions: number;
  crossSwitch: boolean;
}
