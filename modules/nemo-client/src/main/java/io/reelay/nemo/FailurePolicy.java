package io.reelay.nemo;

import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The one table that says, for every backend code and transport fault, whether a call is retried
 * and how (nemo-api.md §6–7 and the seed's error table). The client itself carries out the
 * transport rows ({@link Remedy#WAIT_AND_RETRY_ONCE}, {@link Remedy#BACKOFF}) for calls that are
 * safe to repeat; the identity rows ({@link Remedy#RENEW_TOKEN}, {@link Remedy#NEW_SESSION}) need
 * the session's context and are carried out by its owner; {@link Remedy#GIVE_UP} is never retried.
 *
 * <pre>
 * 1001, 1010, 1011, HTTP 401     RENEW_TOKEN           new token (same client id), retry the call once
 * 1002                           NEW_SESSION           new backend session (history lost), retry once
 * HTTP 429                       WAIT_AND_RETRY_ONCE   wait Retry-After or rate-limit-wait (30 s), retry once
 * HTTP 5xx, 408, resets, I/O     BACKOFF               exponential backoff, full jitter, max-attempts
 * 2001, 4001, 4002, 402, 400,
 * 403, other 4xx, SSE failures   GIVE_UP               never retried (an SSE message is never re-sent)
 * </pre>
 */
public final class FailurePolicy {

  /** What to do about a failed call. */
  public enum Remedy {
    RENEW_TOKEN,
    NEW_SESSION,
    WAIT_AND_RETRY_ONCE,
    BACKOFF,
    GIVE_UP;

    /** Rows the client carries out by itself for repeatable calls. */
    public boolean isTransport() {
      return this == WAIT_AND_RETRY_ONCE || this == BACKOFF;
    }
  }

  private FailurePolicy() {}

  public static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public static Remedy remedy(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof NemoException.Backend b) {
      return switch (b.backendCode()) {
        case 1001, 1010, 1011 -> Remedy.RENEW_TOKEN;
        case 1002 -> Remedy.NEW_SESSION;
        default -> b.httpStatus() >= 500 ? Remedy.BACKOFF : b.httpStatus() == 429 ? Remedy.WAIT_AND_RETRY_ONCE : Remedy.GIVE_UP;
      };
    }
    if (t instanceof NemoException.Http h) {
      int s = h.status();
      if (s == 401) {
        return Remedy.RENEW_TOKEN;
      }
      if (s == 429) {
        return Remedy.WAIT_AND_RETRY_ONCE;
      }
      return s >= 500 || s == 408 ? Remedy.BACKOFF : Remedy.GIVE_UP;
    }
    if (t instanceof NemoException.Transport) {
      return Remedy.BACKOFF;
    }
    return Remedy.GIVE_UP;
  }

  /** How often and how long to retry the transport rows. Finite by construction. */
  public record RetryPolicy(Duration initial, Duration max, int maxAttempts, Duration rateLimitWait) {

    public RetryPolicy {
      if (maxAttempts < 0) {
        throw new IllegalArgumentException("max-attempts must be >= 0");
      }
    }

    /** Exponential backoff with full jitter: uniform in [0, min(max, initial * 2^(attempt-1))]. */
    public Duration backoff(int attempt, double random) {
      double cap = Math.min(max.toMillis(), initial.toMillis() * Math.pow(2, Math.max(0, attempt - 1)));
      return Duration.ofMillis((long) (cap * random));
    }

    /**
     * The wait before retry number {@code attempt} (1-based) of a failure, or null for no retry.
     *
     * @param random uniform in [0,1), for the jitter
     */
    public Duration delay(Throwable failure, int attempt, double random) {
      Remedy r = remedy(failure);
      if (r == Remedy.WAIT_AND_RETRY_ONCE) {
        return attempt == 1 ? statedWait(unwrap(failure)) : null;
      }
      if (r == Remedy.BACKOFF) {
        return attempt <= maxAttempts ? backoff(attempt, random) : null;
      }
      return null;
    }

    private Duration statedWait(Throwable t) {
      if (t instanceof NemoException.Http h && h.retryAfter() != null) {
        try {
          Duration stated = Duration.ofSeconds(Math.max(0, Long.parseLong(h.retryAfter().trim())));
          // honour the server, but never beyond our own ceiling
          Duration ceiling = rateLimitWait.compareTo(max) > 0 ? rateLimitWait : max;
          return stated.compareTo(ceiling) > 0 ? ceiling : stated;
        } catch (NumberFormatException httpDate) {
          return rateLimitWait;
        }
      }
      return rateLimitWait;
    }
  }
}
