package io.reelay.nemo;

/**
 * Every failure of a backend call. Messages carry the backend's code and a short, redacted reason,
 * never a token or a raw response body.
 */
public abstract sealed class NemoException extends RuntimeException
    permits NemoException.Backend, NemoException.Http, NemoException.Transport,
        NemoException.Stream {

  private NemoException(String message, Throwable cause) {
    super(message, cause, false, true);
  }

  /** The code a failure policy and an event use: the backend's code, an HTTP status or ours. */
  public abstract String code();

  /** A business error in the envelope: {@code {"code":2001,...}} (with HTTP 200 or not). */
  public static final class Backend extends NemoException {
    private final int code;
    private final int httpStatus;

    public Backend(int code, int httpStatus, String reason) {
      super("backend code " + code + " (HTTP " + httpStatus + "): " + Redact.text(reason), null);
      this.code = code;
      this.httpStatus = httpStatus;
    }

    public int backendCode() {
      return code;
    }

    public int httpStatus() {
      return httpStatus;
    }

    @Override
    public String code() {
      return Integer.toString(code);
    }
  }

  /** A non-2xx answer without a recognisable envelope (402, 429, 5xx, …). */
  public static final class Http extends NemoException {
    private final int status;
    private final String retryAfter;

    public Http(int status, String reason, String retryAfter) {
      super("HTTP " + status + ": " + Redact.text(reason), null);
      this.status = status;
      this.retryAfter = retryAfter;
    }

    public int status() {
      return status;
    }

    /** The server's {@code Retry-After} header, or null. */
    public String retryAfter() {
      return retryAfter;
    }

    @Override
    public String code() {
      return Integer.toString(status);
    }
  }

  /** The connection failed, was reset or timed out before an answer was read. */
  public static final class Transport extends NemoException {
    public Transport(String what, Throwable cause) {
      super(what + ": " + Redact.text(String.valueOf(cause.getMessage())), cause);
    }

    @Override
    public String code() {
      return "TRANSPORT";
    }
  }

  /** An SSE stream reported an error, stalled or ran too long. */
  public static final class Stream extends NemoException {
    private final String code;

    public Stream(String code, String reason) {
      super(code + ": " + Redact.text(reason), null);
      this.code = code;
    }

    @Override
    public String code() {
      return code;
    }
  }
}
