/**
 * The error family every layer throws. Each class names what a user can act on;
 * the CLI prints `message` on one line and exits non-zero.
 */

/** Base class: anything qcow2-stream throws on purpose is a Qcow2StreamError. */
export class Qcow2StreamError extends Error {
  /** A stable machine-readable code, e.g. `ERR_QCOW2_FORMAT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An on-disk structure is invalid or damaged: names the field and, where known, its byte offset. */
export class FormatError extends Qcow2StreamError {
  readonly field: string;
  readonly offset: number | undefined;

  constructor(field: string, message: string, offset?: number) {
    super('ERR_QCOW2_FORMAT', offset === undefined ? `${field}: ${message}` : `${field} at byte ${offset}: ${message}`);
    this.field = field;
    this.offset = offset;
  }
}

/** A valid image (or a requested output) uses something this library does not do. */
export class UnsupportedError extends Qcow2StreamError {
  readonly feature: string;

  constructor(feature: string, message: string) {
    super('ERR_QCOW2_UNSUPPORTED', message);
    this.feature = feature;
  }
}

/** A size or count passes one of the limits that keep memory and time bounded. */
export class LimitError extends Qcow2StreamError {
  readonly limit: string;

  constructor(limit: string, message: string) {
    super('ERR_QCOW2_LIMIT', message);
    this.limit = limit;
  }
}

/** An option or argument given by the caller is invalid. */
export class OptionError extends Qcow2StreamError {
  readonly option: string;

  constructor(option: string, message: string) {
    super('ERR_QCOW2_OPTION', `${option}: ${message}`);
    this.option = option;
  }
}

/** The input does not match what was promised: longer than the stated size, changed between passes. */
export class InputError extends Qcow2StreamError {
  constructor(message: string) {
    super('ERR_QCOW2_INPUT', message);
  }
}

/** Reading or writing a file, pipe or socket failed; `path` names it where there is one. */
export class IoError extends Qcow2StreamError {
  readonly path: string | undefined;
  readonly syscallCode: string | undefined;

  constructor(message: string, options: { path?: string; syscallCode?: string; cause?: unknown } = {}) {
    super('ERR_QCOW2_IO', message, { cause: options.cause });
    this.path = options.path;
    this.syscallCode = options.syscallCode;
  }
}
