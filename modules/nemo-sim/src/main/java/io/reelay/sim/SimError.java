package io.reelay.sim;

/**
 * An expected, documented failure of a call (nemo-api.md §6): answered with the envelope
 * {@code {code, message, data:null}}. {@code httpStatus} is used when errors go out as HTTP statuses,
 * or always when {@code alwaysHttp} (codes the vendor documents as HTTP statuses: 400, 402, 429, 5xx).
 */
final class SimError extends RuntimeException {

  final int code;
  final int httpStatus;
  final boolean alwaysHttp;
  /** Seconds for a Retry-After header, or 0 for none. */
  final long retryAfterSeconds;

  private SimError(int code, int httpStatus, boolean alwaysHttp, String message) {
    this(code, httpStatus, alwaysHttp, message, 0);
  }

  private SimError(int code, int httpStatus, boolean alwaysHttp, String message, long retryAfterSeconds) {
    super(message, null, false, false); // expected outcome: no stack trace needed
    this.code = code;
    this.httpStatus = httpStatus;
    this.alwaysHttp = alwaysHttp;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** HTTP 429 with the envelope (code 429), as the vendor documents for the anonymous-token limit. */
  static SimError rateLimited(String message, long retryAfterSeconds) {
    return new SimError(429, 429, true, message, Math.max(1, retryAfterSeconds));
  }

  static SimError sessionExpired(String sessionId) {
    return new SimError(1002, 404, false, "session not found: " + sessionId + " (expired)");
  }

  static SimError duplicateRenderId(String id) {
    return new SimError(409, 409, false, "render id already exists: " + id + "; submit again with a new id");
  }

  static SimError tokenInvalid(String message) {
    return new SimError(1001, 401, false, message);
  }

  static SimError sessionNotFound(String sessionId) {
    return new SimError(1002, 404, false, "session not found: " + sessionId);
  }

  static SimError notEnoughCredits(int needed, int available) {
    return new SimError(2001, 402, false,
        "insufficient credits: this operation needs " + needed + ", " + available + " available");
  }

  static SimError unsupportedType(String what) {
    return new SimError(4001, 415, false, "unsupported file type: " + what);
  }

  static SimError tooLarge(String what) {
    return new SimError(4002, 413, false, "file too large: " + what);
  }

  static SimError badRequest(String message) {
    return new SimError(400, 400, true, message);
  }

  static SimError exportRefused(String message) {
    return new SimError(402, 402, true, message);
  }

  static SimError notFound(String message) {
    return new SimError(404, 404, false, message);
  }
}
