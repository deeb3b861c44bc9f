/** A bad command line or call: MaeCommand's error handler exits with its code, 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}
