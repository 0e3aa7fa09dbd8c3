/** Silence after which a network transfer, or a TCP connection not made, is given up (--timeout). */
export const DEFAULT_TIMEOUT_MS = 30_000;
