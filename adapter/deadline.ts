// Every outbound call has a deadline: the promise, or a rejection naming what ran out of time.
export class DeadlineError extends Error {
  constructor(what: string, readonly ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** `p`, or a DeadlineError after `ms`; the timer never keeps the process alive. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
