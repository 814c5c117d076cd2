/** A failure the CLI reports as one message and a non-zero exit, without a stack trace. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export type Out = (line: string) => void;
